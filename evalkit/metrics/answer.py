"""Answer metrics against the case's expected answers, computed without a model API.

`exact_match` and `token_f1` follow the official SQuAD 2.0 scorer: answers are normalised (lower
case, no punctuation, no articles, single spaces), the best match over every accepted answer
counts, and an unanswerable question (`answerable: false`) is answered correctly only by
declining. An answer that declines (see evalkit.metrics.abstention) is scored as the scorer's
empty prediction. Citation marks ([doc id]) are stripped before comparing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalkit.core.records import Score
from evalkit.core.specs import AbstentionSpec, MetricSpec
from evalkit.core.text import normalize_answer, strip_citations
from evalkit.metrics.abstention import declines
from evalkit.metrics.base import MetricContext, metric_registry

if TYPE_CHECKING:
    from evalkit.core.records import Case, Output


def exact_match(prediction: str, reference: str) -> float:
    """SQuAD exact match: 1.0 when the normalised strings are equal."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


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


def squad_score(kind: str, answer: str, case: Case, abstention: AbstentionSpec) -> float:
    """exact_match or token_f1 as the SQuAD 2.0 scorer computes them for one question."""
    prediction = "" if declines(answer, abstention) else strip_citations(answer)
    # as the scorer: accepted answers that normalise to nothing are dropped; none left means ""
    references = [a for a in case.answers if normalize_answer(a)] if case.answerable else []
    measure = exact_match if kind == "exact_match" else token_f1
    return max(measure(prediction, reference) for reference in references or [""])


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
    abstention: AbstentionSpec

    async def score(self, case: Case, output: Output) -> Score:
        if self.spec.base in ("exact_match", "token_f1"):
            return Score(value=squad_score(self.spec.base, output.answer, case, self.abstention))
        answer = strip_citations(output.answer)  # "Rollo [d1]" answers "Rollo"
        if self.spec.base == "rouge_l":
            return Score(value=max(rouge_l(answer, reference) for reference in case.answers))
        from evalkit.models.embeddings import cosine_similarity

        similarities = [await asyncio.to_thread(cosine_similarity, answer, reference) for reference in case.answers]
        return Score(value=max(similarities))


# version 2: citation marks stripped; version 3 (exact_match, token_f1): SQuAD 2.0 rules (best of the
# accepted answers; unanswerable cases scored on declining)
_VERSIONS = {"exact_match": 3, "token_f1": 3, "rouge_l": 2, "semantic_similarity": 2}

for _kind, _version in _VERSIONS.items():

    def _factory(name: str, k: int | None, context: MetricContext, kind: str = _kind,
                 version: int = _version) -> AnswerMetric:
        squad = kind in ("exact_match", "token_f1")
        needs = ("expected_answer", "answer", "declines") if squad else ("expected_answer", "answer")
        # the declining phrases decide the SQuAD metrics' empty prediction: they are parameters
        params = {"abstention": context.abstention.model_dump(mode="json")} if squad else {}
        return AnswerMetric(MetricSpec(name=name, base=kind, needs=needs, params=params,  # type: ignore[arg-type]
                                       version=version), context.abstention)

    metric_registry.register(_kind)(_factory)
