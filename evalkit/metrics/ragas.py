"""Adapters that compute metrics through ragas itself, so the numbers are ragas's own.

The ID-based context metrics need no model. `context_precision`, `context_recall` and
`factual_correctness` are judged by the suite's `judge:` model through ragas's collections API,
with a client whose calls go through evalkit.models.llm (cache, retries, accounting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from evalkit.core.records import Score
from evalkit.core.specs import MetricSpec, Need
from evalkit.metrics.base import MetricContext, metric_registry

if TYPE_CHECKING:
    from evalkit.core.records import Case, Output


@cache
def _ragas_metric(kind: str) -> Any:
    import warnings

    from evalkit.core.offline import go_offline

    go_offline()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # the ID-based metrics exist only in ragas's legacy metrics API (0.4.x)
        from ragas.metrics import IDBasedContextPrecision, IDBasedContextRecall

    return IDBasedContextPrecision() if kind == "precision" else IDBasedContextRecall()


@dataclass
class RagasIdMetric:
    """ragas's IDBasedContextPrecision / IDBasedContextRecall on retrieved vs expected doc ids."""

    spec: MetricSpec
    kind: str  # "precision" | "recall"

    async def score(self, case: Case, output: Output) -> Score:
        from ragas.dataset_schema import SingleTurnSample

        ids: list[str | int] = list(output.retrieved_ids)
        if not ids:
            return Score(error="no retrieved ids")
        sample = SingleTurnSample(retrieved_context_ids=ids, reference_context_ids=[*case.expected_sources])
        value = await _ragas_metric(self.kind).single_turn_ascore(sample)
        if value is None or math.isnan(value):
            return Score(error="ragas returned NaN")
        return Score(value=float(value))


for _kind in ("precision", "recall"):

    def _factory(name: str, k: int | None, context: MetricContext, kind: str = _kind) -> RagasIdMetric:
        return RagasIdMetric(MetricSpec(name=name, base=f"context_{kind}_ids",
                                        needs=("expected_sources", "ranked_ids")), kind)

    metric_registry.register(f"context_{_kind}_ids")(_factory)


# name -> (ragas collections class, whether it judges retrieved passages, ascore arguments)
JUDGED = {
    "context_precision": ("ContextPrecisionWithReference", True,
                          lambda case, out: {"user_input": case.question, "reference": case.expected_answer,
                                             "retrieved_contexts": out.contexts}),
    "context_recall": ("ContextRecall", True,
                       lambda case, out: {"user_input": case.question, "retrieved_contexts": out.contexts,
                                          "reference": case.expected_answer}),
    "factual_correctness": ("FactualCorrectness", False,
                            lambda case, out: {"response": out.answer, "reference": case.expected_answer}),
    "answer_relevancy": ("AnswerRelevancy", False,
                         lambda case, out: {"user_input": case.question, "response": out.answer}),
}
NEEDS_REFERENCE = {"context_precision", "context_recall", "factual_correctness"}


@dataclass
class RagasJudgedMetric:
    """A ragas metric computed by the suite's judge model."""

    spec: MetricSpec
    judge: Any  # a model judge (evalkit.judges.ragas.RagasJudge or its subclass)

    async def score(self, case: Case, output: Output) -> Score:
        class_name, uses_passages, arguments = JUDGED[self.spec.base]
        if uses_passages and not output.passages:
            return Score(skipped="no retrieved passages (a closed-book answer)")
        if not uses_passages and not output.answer.strip():
            return Score(skipped="empty answer")
        result = await self.judge.metric(class_name).ascore(**arguments(case, output))
        value = float(result.value)
        if math.isnan(value):
            return Score(error="ragas returned NaN (the judge found nothing to score)")
        return Score(value=value, details={"judge": self.judge.name})


for _name in JUDGED:

    def _judged_factory(name: str, k: int | None, context: MetricContext, kind: str = _name) -> RagasJudgedMetric:
        from evalkit.core.errors import EvalkitError

        if context.endpoint is None:
            raise EvalkitError(f"metric '{name}' is judged by a model, and the suite has no model judge",
                               hint="add judge: {kind: ragas, model: gpt-4o-mini} (key from OPENAI_API_KEY), "
                                    "or use faithfulness")
        needs: tuple[Need, ...] = ("expected_answer", "judge") if kind in NEEDS_REFERENCE else ("judge",)
        return RagasJudgedMetric(MetricSpec(name=name, base=kind, needs=needs, judge=context.judge.name),
                                 context.judge)

    metric_registry.register(_name)(_judged_factory)
