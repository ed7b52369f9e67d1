"""Time the demo as a new user meets it: `nox -s demo` on a fresh clone with an empty pip cache
(cold: install, indexes and model calls all new), and each demo suite re-run unchanged (warm).

Prints the seconds to the first results table and to the end of each cold demo, and the median of
the warm re-runs of each suite, with MLflow on as in the demo. Machines are shared and noisy: run
it on an idle machine and compare figures from one run.

    python benchmarks/bench_demo.py [--cold N] [--warm N]
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the demo's suites and their sizes, from the noxfile (running it only defines its sessions)
DEMO: tuple[tuple[str, tuple[str, ...]], ...] = runpy.run_path(str(ROOT / "noxfile.py"))["DEMO"]
FIRST_TABLE = "metric (mean [95% CI])"


def cold_demo(work: Path, log: Path | None = None) -> tuple[float, float, Path]:
    """(seconds to the first results table, seconds in all) of `nox -s demo` on a fresh clone; its
    output is copied to `log` when given."""
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "PIP_CACHE_DIR": str(work / "pip-cache")}  # empty: every package downloaded
    started = time.perf_counter()
    first = None
    with subprocess.Popen([sys.executable, "-m", "nox", "-s", "demo"], cwd=clone, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as demo:
        assert demo.stdout is not None
        copy = log.open("w", encoding="utf-8") if log else None
        for line in demo.stdout:
            if copy:
                copy.write(f"{time.perf_counter() - started:7.1f} {line}")
            if first is None and FIRST_TABLE in line:
                first = time.perf_counter() - started
            if "cmake" in line or "cc1plus" in line:
                sys.exit(f"the demo invoked a compiler: {line.strip()}")
    if copy:
        copy.close()
    if demo.returncode != 0:
        sys.exit(f"nox -s demo exited {demo.returncode}")
    return first or float("nan"), time.perf_counter() - started, clone


def warm_runs(clone: Path, repeats: int) -> dict[str, list[float]]:
    """Seconds of each demo suite re-run unchanged, in the demo's own environment and stores."""
    evalkit = clone / ".nox" / "demo" / "bin" / "evalkit"
    found: dict[str, list[float]] = {}
    for suite, size in DEMO:  # as the demo runs them
        for _ in range(repeats):
            started = time.perf_counter()
            result = subprocess.run([str(evalkit), "run", suite, *size], cwd=clone, check=False,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if result.returncode not in (0, 1):
                sys.exit(f"{suite} exited {result.returncode}: {result.stderr.strip()[-500:]}")
            found.setdefault(suite, []).append(time.perf_counter() - started)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", type=int, default=3, help="cold demos to take the median of")
    parser.add_argument("--warm", type=int, default=3, help="warm re-runs of each suite")
    parser.add_argument("--log", type=Path, help="copy the first cold demo's output here, each line timed")
    args = parser.parse_args()
    firsts, totals = [], []
    with tempfile.TemporaryDirectory() as tmp:
        clone = None
        for number in range(args.cold):
            work = Path(tmp) / f"cold-{number}"
            work.mkdir()
            first, total, clone = cold_demo(work, args.log if number == 0 else None)
            firsts.append(first)
            totals.append(total)
            print(f"cold demo {number + 1}: first table after {first:.0f} s, done after {total:.0f} s", flush=True)
        print(f"cold demo: median first table {statistics.median(firsts):.0f} s, "
              f"median total {statistics.median(totals):.0f} s over {args.cold}")
        assert clone is not None
        for suite, seconds in warm_runs(clone, args.warm).items():
            print(f"{suite} re-run unchanged: median {statistics.median(seconds):.1f} s over {args.warm} "
                  f"({', '.join(f'{s:.1f}' for s in seconds)})")


if __name__ == "__main__":
    main()
