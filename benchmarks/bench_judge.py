"""Time the offline judge on AttributionBench dev (1,198 answers with their cited passages).

Prints the median over repeats of judging all rows twice: with every passage new (its sentences
analysed afresh), and with the passages seen before, as when a run's candidates retrieve the same
passages (the judge analyses each distinct passage once).
Usage: python benchmarks/bench_judge.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from evalkit.judges.calibration import load_labels
from evalkit.judges.features import passage_terms
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
    cold, warm = [], []
    for _ in range(repeats):
        passage_terms.cache_clear()  # every passage analysed afresh, as on a run's first sight of it
        cold.append(judged_in(judge, inputs))
        warm.append(judged_in(judge, inputs))  # the same passages again, as across a run's candidates
    for label, timings in (("passages new", cold), ("passages seen before", warm)):
        median = statistics.median(timings)
        print(f"offline judge, {label}: {len(rows)} answers in {median:.2f} s (median of {repeats}); "
              f"{median / len(rows) * 1000:.2f} ms per answer, {len(rows) / median:,.0f} answers/s")


def judged_in(judge: OfflineJudge, inputs: list) -> float:
    started = time.perf_counter()
    for answer, passages, question in inputs:
        judge.judge(answer, passages, question)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
