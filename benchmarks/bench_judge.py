"""Time the offline judges on AttributionBench dev (1,198 answers, 1,238 claims, with their passages),
or with --labels on another labelled file (suites/data/squad2/labels.jsonl.gz: short answers).

For offline-v7 (the default: lexical and span measures, a model per answer shape), offline-v8 (v7 and
v4's measures by meaning), offline-v6 (the
cross-encoder with v4's measures), offline-v4 (lexical and static-embedding features) and offline-v2
(lexical), prints the median over repeats of judging all rows twice: with
every passage new (its sentences analysed and embedded afresh, and for v6 its windows encoded), and
with the passages seen before, as when a run's candidates retrieve the same passages (each distinct
passage is analysed, embedded and encoded once per process). In the second pass the only work left
is the answers' claims and the questions.
AttributionBench's claims are sentences; suites/data/squad2/labels.jsonl.gz holds short answers.
Usage: taskset -c 0 python benchmarks/bench_judge.py [--repeats N] [--judges offline-v7 ...] [--labels FILE]
(taskset: one core; torch is held to one thread)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from evalkit.judges.calibration import load_labels
from evalkit.judges.cross import NAME as CROSS_ENCODER
from evalkit.judges.cross import MemoryCache, shipped_encoder, windows
from evalkit.judges.factory import shipped_scorer
from evalkit.judges.features import passage_terms
from evalkit.judges.offline import OfflineJudge, claims_of
from evalkit.judges.semantic import EMBEDDINGS

LABELS = Path(__file__).resolve().parents[1] / "suites" / "data" / "attributionbench" / "dev.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--judges", nargs="*",
                        default=["offline-v7", "offline-v8", "offline-v6", "offline-v4", "offline-v2"])
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = load_labels(args.labels)
    inputs = [(r.answer, r.passages(), r.question) for r in rows]  # as calibration and runs judge them
    n_claims = sum(len(claims_of(r.answer)) for r in rows)
    for name in args.judges:
        scorer = shipped_scorer(name)
        judge = OfflineJudge(scorer, name)
        judge.judge(*inputs[0])  # load the stemmer, the static vectors and the encoder
        cold, warm = [], []
        for _ in range(args.repeats):
            passage_terms.cache_clear()  # every passage analysed afresh, as on a run's first sight of it
            windows.cache_clear()
            EMBEDDINGS.forget()
            if name == CROSS_ENCODER:  # room for every window: the second pass has them all
                shipped_encoder().cache = MemoryCache(limit=2**40)
            cold.append(judged_in(judge, inputs))
            EMBEDDINGS.forget(t for r in rows for t in (*claims_of(r.answer), r.question))  # passages stay known
            warm.append(judged_in(judge, inputs))
        if name == CROSS_ENCODER:
            cache = shipped_encoder().cache
            print(f"{name}: {cache.computed} evidence windows encoded, {cache.bytes / 2**20:.0f} MB kept")
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
