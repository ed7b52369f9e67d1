"""Answer metrics against the case's expected answer, computed without a model API."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalkit.core.records import Score
from evalkit.core.specs import MetricSpec
from evalkit.core.text import normalize_answer, strip_citations
from evalkit.metrics.base import MetricContext, metric_registry

if TYPE_CHECKING:
    from evalkit.core.records import Case, Output


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall after normalisation."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    p, r = common / len(predicted), common / len(expected)
    return 2 * p * r / (p + r)


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence), Porter-stemmed, from the rouge-score package."""
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


@dataclass
class AnswerMetric:
    spec: MetricSpec

    async def score(self, case: Case, output: Output) -> Score:
        reference = case.expected_answer or ""
        answer = strip_citations(output.answer)  # "Rollo [d1]" answers "Rollo"
        if self.spec.base == "token_f1":
            return Score(value=token_f1(answer, reference))
        if self.spec.base == "rouge_l":
            return Score(value=rouge_l(answer, reference))
        from evalkit.models.embeddings import cosine_similarity

        return Score(value=await asyncio.to_thread(cosine_similarity, answer, reference))


for _kind in ("token_f1", "rouge_l", "semantic_similarity"):

    def _factory(name: str, k: int | None, context: MetricContext, kind: str = _kind) -> AnswerMetric:
        # version 2: citation marks are stripped from the answer before it is compared
        return AnswerMetric(MetricSpec(name=name, base=kind, needs=("expected_answer", "answer"), version=2))

    metric_registry.register(_kind)(_factory)
