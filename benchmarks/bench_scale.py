"""Throughput and memory of `evalkit run` at scale: the local executor against the Ray executor.

A suite of N generated questions with one model candidate (concurrency 32) against
tests/fake_openai.py in its own process with a fixed latency per call, scored with exact_match and
token_f1 (no judge calls), run through the CLI with --no-mlflow --no-cache. Prints wall time,
samples per second, the ideal time (calls x latency / concurrency) and the driver's peak RSS; with
--sizes, how the driver's memory grows with N.
Usage: python benchmarks/bench_scale.py [--cases 10000] [--latency 0.05] [--executors local,ray] [--sizes 2000,10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONCURRENCY = 32


def serve(latency: float, ready: multiprocessing.Queue) -> None:
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI(latency_s=latency) as server:
        ready.put(server.base_url)
        while True:
            time.sleep(3600)


def write_suite(folder: Path, cases: int, url: str) -> Path:
    with (folder / "cases.jsonl").open("w") as handle:
        for i in range(cases):
            handle.write(json.dumps({"id": f"q{i}", "question": f"What is item {i}?",
                                     "expected_answer": f"Item {i} is a thing."}) + "\n")
    suite = folder / "scale.yaml"
    suite.write_text(f"name: scale\ncases: {{path: cases.jsonl}}\ncandidates:\n"
                     f"  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: null, "
                     f"concurrency: {CONCURRENCY}}}\nmetrics: [exact_match, token_f1]\nconcurrency: {CONCURRENCY}\n")
    return suite


def run(folder: Path, executor: str) -> tuple[float, float]:
    """(wall seconds, peak RSS of the evalkit process in MB)."""
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(folder / "cache"), "RAY_USAGE_STATS_ENABLED": "0"}
    command = [sys.executable, "-c", "import resource, runpy, sys; sys.argv = ['evalkit'] + sys.argv[1:]\n"
               "try:\n    runpy.run_module('evalkit', run_name='__main__')\nfinally:\n"
               "    print(f'peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)",
               "run", "scale.yaml", "--no-mlflow", "--no-cache", "--executor", executor]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{executor} run failed:\n{result.stdout}\n{result.stderr}")
    peak = next(int(line.split("=")[1]) for line in result.stderr.splitlines() if line.startswith("peak_rss_kb="))
    return wall, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--sizes", default="", help="also: the local executor's peak memory at these sizes")
    args = parser.parse_args()
    ready: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.latency, ready), daemon=True)
    server.start()
    url = ready.get(timeout=30)
    ideal = args.cases * args.latency / CONCURRENCY
    try:
        for executor in args.executors.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                write_suite(Path(tmp), args.cases, url)
                wall, peak = run(Path(tmp), executor)
            print(f"{executor:>5}: {args.cases:,} samples in {wall:.1f} s ({args.cases / wall:,.0f}/s; ideal "
                  f"{ideal:.1f} s at {args.latency * 1000:g} ms x {CONCURRENCY} in flight); peak RSS {peak:,.0f} MB")
        for size in [int(s) for s in args.sizes.split(",") if s]:
            with tempfile.TemporaryDirectory() as tmp:
                write_suite(Path(tmp), size, url)
                wall, peak = run(Path(tmp), "local")
            print(f"local, {size:,} samples: peak RSS {peak:,.0f} MB ({wall:.1f} s)")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
