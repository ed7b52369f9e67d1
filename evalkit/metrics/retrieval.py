"""Retrieval metrics on ranked document ids with binary relevance (trec_eval definitions).

`ranked` is the candidate's document ids in rank order, each once; `relevant` the case's
expected_sources. Each function is pure and checked against ranx in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalkit.core.records import Score
from evalkit.core.specs import MetricSpec
from evalkit.metrics.base import MetricContext, metric_registry

if TYPE_CHECKING:
    from evalkit.core.records import Case, Output


def hit_rate(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1 if any relevant id is in the top k, else 0."""
    return float(any(doc in relevant for doc in ranked[:k]))


def recall(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """|relevant ∩ top k| / |relevant|."""
    return sum(doc in relevant for doc in ranked[:k]) / len(relevant)


def precision(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """|relevant ∩ top k| / k; like trec_eval's P@k, a list shorter than k still divides by k."""
    return sum(doc in relevant for doc in ranked[:k]) / k


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """1 / rank of the first relevant id (within the top k if given), 0 if there is none."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def average_precision(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """Σ over relevant ranks r of precision@r, divided by |relevant| (trec_eval's AP)."""
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def ndcg(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """DCG@k / IDCG@k with gain 1 for a relevant id at rank r discounted by log2(r + 1)."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


@dataclass
class RetrievalMetric:
    spec: MetricSpec
    function: Callable[[Sequence[str], set[str], int], float]
    k: int | None

    async def score(self, case: Case, output: Output) -> Score:
        ranked = output.retrieved_ids
        value = self.function(ranked, set(case.expected_sources), self.k)  # type: ignore[arg-type]
        return Score(value=value)


def _register(base: str, function: Callable[..., float]) -> None:
    @metric_registry.register(base)
    def factory(name: str, k: int | None, context: MetricContext) -> RetrievalMetric:
        spec = MetricSpec(name=name, base=base, params={"k": k} if k else {},
                          needs=("expected_sources", "ranked_ids"))
        return RetrievalMetric(spec, function, k)


for _base, _function in (("hit_rate", hit_rate), ("recall", recall), ("precision", precision),
                         ("ndcg", ndcg), ("mrr", reciprocal_rank), ("map", average_precision)):
    _register(_base, _function)
