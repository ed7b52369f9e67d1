"""Time the offline judges on AttributionBench dev (1,198 answers, 1,250 claims, with their passages).

For offline-v4 (lexical and static-embedding features) and offline-v2 (lexical), prints the median
over repeats of judging all rows twice: with every passage new (its sentences analysed and embedded
afresh), and with the passages seen before, as when a run's candidates retrieve the same passages
(each distinct passage is analysed and embedded once per process). In the second pass the only
embedding work left is the answers' claims and the questions.
Usage: taskset -c 0 python benchmarks/bench_judge.py [--repeats N]  (taskset: one core)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from evalkit.judges.calibration import load_labels
from evalkit.judges.features import passage_terms
from evalkit.judges.offline import OfflineJudge, claims_of, shipped_weights
from evalkit.judges.semantic import EMBEDDINGS
from evalkit.judges.spec import OFFLINE_VERSIONS

LABELS = Path(__file__).resolve().parents[1] / "suites" / "data" / "attributionbench" / "dev.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = load_labels(LABELS)
    inputs = [(r.answer, r.passages(), r.question) for r in rows]  # as calibration and runs judge them
    n_claims = sum(len(claims_of(r.answer)) for r in rows)
    for name in (OFFLINE_VERSIONS["semantic"], OFFLINE_VERSIONS["lexical"]):
        judge = OfflineJudge(shipped_weights(name), name)
        judge.judge(*inputs[0])  # load the stemmer and the static vectors
        cold, warm = [], []
        for _ in range(args.repeats):
            passage_terms.cache_clear()  # every passage analysed afresh, as on a run's first sight of it
            EMBEDDINGS.forget()
            cold.append(judged_in(judge, inputs))
            EMBEDDINGS.forget(t for r in rows for t in (*claims_of(r.answer), r.question))  # passages stay known
            warm.append(judged_in(judge, inputs))
        for label, timings in (("passages new", cold), ("passages seen before", warm)):
            median = statistics.median(timings)
            print(f"{name}, {label}: {len(rows)} answers ({n_claims} claims) in {median:.2f} s "
                  f"(median of {args.repeats}); {median / n_claims * 1000:.2f} ms per claim")


def judged_in(judge: OfflineJudge, inputs: list) -> float:
    started = time.perf_counter()
    for answer, passages, question in inputs:
        judge.judge(answer, passages, question)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
