"""Retrieval metrics equal ranx (trec_eval definitions) to 1e-9 on the same ranked lists."""

from __future__ import annotations

import asyncio
import random

import pytest
import ranx

from evalkit.metrics import retrieval as r

CASES = [
    # ranked, relevant, k, expected (hit, recall, precision, rr, ndcg)
    (["a", "b", "c"], {"a"}, 3, (1.0, 1.0, 1 / 3, 1.0, 1.0)),
    (["x", "a", "y"], {"a"}, 3, (1.0, 1.0, 1 / 3, 0.5, 1 / 1.584962500721156)),
    (["x", "y", "z"], {"a"}, 3, (0.0, 0.0, 0.0, 0.0, 0.0)),
    (["x", "a"], {"a", "b"}, 5, (1.0, 0.5, 0.2, 0.5, (1 / 1.584962500721156) / (1 + 1 / 1.584962500721156))),
    ([], {"a"}, 10, (0.0, 0.0, 0.0, 0.0, 0.0)),
]


@pytest.mark.parametrize(("ranked", "relevant", "k", "expected"), CASES)
def test_hand_computed_values(ranked, relevant, k, expected) -> None:
    got = (r.hit_rate(ranked, relevant, k), r.recall(ranked, relevant, k), r.precision(ranked, relevant, k),
           r.reciprocal_rank(ranked, relevant), r.ndcg(ranked, relevant, k))
    assert got == pytest.approx(expected, abs=1e-12)


def _random_runs(seed: int, n_queries: int = 200) -> tuple[dict, dict]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(40)]
    qrels, run = {}, {}
    for q in range(n_queries):
        relevant = rng.sample(docs, rng.randint(1, 5))
        ranked = rng.sample(docs, rng.randint(0, 25))
        qrels[f"q{q}"] = {d: 1 for d in relevant}
        run[f"q{q}"] = {d: float(len(ranked) - i) for i, d in enumerate(ranked)}
    return qrels, run


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equal_to_ranx(seed: int) -> None:
    qrels, run = _random_runs(seed)
    names = {"hit_rate@5": (r.hit_rate, 5), "recall@10": (r.recall, 10), "precision@10": (r.precision, 10),
             "mrr": (r.reciprocal_rank, None), "mrr@5": (r.reciprocal_rank, 5), "ndcg@10": (r.ndcg, 10),
             "ndcg@3": (r.ndcg, 3), "map": (r.average_precision, None), "map@10": (r.average_precision, 10)}
    queries = [q for q in qrels if run[q]]  # ranx drops queries with an empty ranking
    reference_run = ranx.Run({q: run[q] for q in queries})
    ranx.evaluate(ranx.Qrels({q: qrels[q] for q in queries}), reference_run, list(names), return_mean=False)
    for name, (function, k) in names.items():
        ours = [function(list(run[q]), set(qrels[q]), k) for q in queries]
        theirs = [float(reference_run.scores[name][q]) for q in queries]
        assert ours == pytest.approx(theirs, abs=1e-9), name


def test_metric_uses_distinct_documents_in_rank_order() -> None:
    from evalkit.core.records import Case, Output, Passage
    from evalkit.judges.offline import OfflineJudge
    from evalkit.metrics.base import MetricContext, build_metric

    output = Output(passages=[Passage(doc_id="x", rank=1), Passage(doc_id="x", rank=2), Passage(doc_id="a", rank=3)])
    case = Case(id="1", question="q", expected_sources=["a"])
    metric = build_metric("mrr", MetricContext(OfflineJudge()))
    assert asyncio.run(metric.score(case, output)).value == 0.5  # two chunks of x count as one document
