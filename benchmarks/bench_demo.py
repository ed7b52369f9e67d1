"""Time the SciFact demo suite with empty and warm caches, and `evalkit --help`.

Prints wall-clock seconds. Machines are shared and noisy: run it on an idle machine and compare
figures from the same run. Usage: python benchmarks/bench_demo.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds one command takes; a run that did not complete (exit 2 or more) has no valid time."""
    started = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, check=False, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode not in (0, 1):  # 1: a gate failed, the run itself completed
        sys.exit(f"{' '.join(args[2:])} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2, help="warm runs to take the median of")
    repeats = parser.parse_args().repeats
    evalkit = [sys.executable, "-m", "evalkit"]
    helps = [timed([*evalkit, "--help"]) for _ in range(5)]
    print(f"evalkit --help: median {statistics.median(helps):.2f} s over 5")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EVALKIT_CACHE_DIR": f"{tmp}/cache", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        run = [*evalkit, "run", "suites/scifact.yaml", "--reports-dir", f"{tmp}/reports"]
        cold = timed(run, env)
        print(f"scifact (809 cases x 3 candidates, 8 metrics, MLflow on): empty cache {cold:.1f} s")
        warm = [timed(run, env) for _ in range(repeats)]
        print(f"scifact: warm cache median {statistics.median(warm):.1f} s over {repeats}")


if __name__ == "__main__":
    main()
