"""Throughput of judged metrics against a local OpenAI-compatible server with a fixed latency.

1,000 recorded answers are scored with ragas's faithfulness (2 judge calls each) at concurrency 64
against tests/fake_openai.py running in its own process with 200 ms latency per call; the ideal
time is calls x latency / concurrency. Then harness CPU time per call is measured at 20 ms latency.
Usage: python benchmarks/bench_llm.py [--cases N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def serve(latency: float, ready: multiprocessing.Queue) -> None:
    from tests.fake_openai import FakeOpenAI, faithfulness_judge

    with FakeOpenAI(latency_s=latency, judge=faithfulness_judge) as server:
        ready.put(server.base_url)
        while True:
            time.sleep(3600)


def measure(cases: int, latency: float, concurrency: int) -> tuple[float, float, int]:
    """(wall seconds, harness CPU seconds, calls) for one run."""
    import gc

    from evalkit.config.suite import load_suite
    from evalkit.runner.execute import LocalExecutor
    from evalkit.runner.pipeline import RunOptions, run_suite

    ready: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(latency, ready), daemon=True)
    server.start()
    base_url = ready.get(timeout=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rows = [{"id": str(i), "answer": f"Claim number {i} holds. It is supported.", "retrieved_ids": ["d"],
                     "contexts": [f"Claim number {i} holds. It is supported."]} for i in range(cases)]
            (folder / "outputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            (folder / "suite.yaml").write_text(
                "name: bench\ncases:\n" + "".join(f"  - {{id: '{i}', question: 'q{i}?'}}\n" for i in range(cases))
                + "candidates:\n  - {name: product, kind: recorded, path: outputs.jsonl}\n"
                + "metrics: [faithfulness]\n" + f"concurrency: {concurrency}\n"
                + f"judge: {{kind: ragas, model: gpt-4o-mini, base_url: '{base_url}', api_key_env: BENCH_KEY, "
                + f"concurrency: {concurrency}}}\n")
            os.environ["BENCH_KEY"] = "sk-bench"
            suite = load_suite(folder / "suite.yaml")
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            options = RunOptions(reports_dir=folder / "reports", cache_dir=folder / "cache", use_cache=False)
            try:  # as `evalkit run` does: freeze what was built before the samples start
                outcome = asyncio.run(run_suite(suite, options, executor=LocalExecutor(concurrency, gc.freeze)))
            finally:
                gc.unfreeze()
            wall = time.perf_counter() - started
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
            usage = json.loads((outcome.folder / "usage.json").read_text())
            calls = next(v["calls"] for k, v in usage.items() if k.startswith("judge:"))
            errored = sum(1 for s in outcome.samples if s.scores["faithfulness"].error)
            assert errored == 0, f"{errored} samples errored"
            return wall, cpu, calls
    finally:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the median is reported")
    args = parser.parse_args()
    measure(20, 0.0, 8)  # warm up imports (ragas) outside the timed runs
    walls, calls = [], 0
    for _ in range(args.repeat):
        wall, _, calls = measure(args.cases, 0.200, 64)
        walls.append(wall)
    ideal = calls * 0.200 / 64
    wall = statistics.median(walls)
    print(f"{args.cases} judged samples, {calls} calls at 200 ms, concurrency 64: median {wall:.2f} s of "
          f"{args.repeat} (ideal {ideal:.2f} s, {wall / ideal:.2f}x ideal; runs: "
          + ", ".join(f"{w:.2f}" for w in walls) + ")")
    cpu_per_call = []
    for _ in range(args.repeat):
        wall, cpu, calls = measure(args.cases, 0.020, 64)
        cpu_per_call.append(cpu / calls * 1000)
    print(f"harness CPU at 20 ms latency: median {statistics.median(cpu_per_call):.2f} ms per call "
          f"({calls} calls per run; runs: " + ", ".join(f"{c:.2f}" for c in cpu_per_call) + ")")


if __name__ == "__main__":
    main()
