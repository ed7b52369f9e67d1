"""Time the offline judge on AttributionBench dev (1,198 claims with their cited passages).

Prints the median over repeats of judging all rows, and the time per 1,000 claims.
Usage: python benchmarks/bench_judge.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from evalkit.judges.calibration import load_labels
from evalkit.judges.offline import OfflineJudge

LABELS = Path(__file__).resolve().parents[1] / "suites" / "data" / "attributionbench" / "dev.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    rows = load_labels(LABELS)
    inputs = [(r.answer, r.passages(), r.question) for r in rows]  # as calibration and runs judge them
    judge = OfflineJudge()
    judge.judge(*inputs[0])  # load the stemmer
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for answer, passages, question in inputs:
            judge.judge(answer, passages, question)
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(f"offline judge: {len(rows)} claims in {median:.2f} s (median of {repeats}); "
          f"{median / len(rows) * 1000:.2f} s per 1,000 claims")


if __name__ == "__main__":
    main()
