"""Faithfulness: the share of the answer's claims that the retrieved passages support, per its judge.

An answer that declines ("The passages do not say.") makes no claim about the passages: it is not
applicable, not unfaithful (abstention metrics judge whether declining was right). An extractive
candidate's answer, its passages' sentences copied (a long one cut short), is not applicable either: it says only
what they say by construction, and a 1.000 would look measured when nothing was judged."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from evalkit.core.records import Score
from evalkit.core.specs import AbstentionSpec, MetricSpec
from evalkit.metrics.abstention import declines
from evalkit.metrics.base import MetricContext, metric_registry

if TYPE_CHECKING:
    from evalkit.core.judge import Judge
    from evalkit.core.records import Case, Output


@dataclass
class Faithfulness:
    spec: MetricSpec
    judge: Judge
    abstention: AbstentionSpec

    async def score(self, case: Case, output: Output) -> Score:
        if not output.answer.strip():
            return Score(skipped="empty answer")
        if declines(output.answer, self.abstention):
            return Score(skipped="the answer declines: it makes no claim to check")
        if not output.passages:
            return Score(skipped="no retrieved passages (a closed-book answer)")
        if not any(p.text.strip() for p in output.passages):
            return Score(skipped="the candidate returned its sources without their texts, so there is no evidence to "
                                 "judge against (return {'id': ..., 'text': ...} objects, or the texts as 'contexts')")
        if output.extractive:  # copied from the passages by construction (a long sentence cut short)
            return Score(skipped="quoted: the answer is its passages' own sentences (an extractive candidate), so "
                                 "there is nothing for a judge to measure")
        verdict = await self.judge.faithfulness(case.question, output.answer, output.passages)
        if verdict.score != verdict.score:  # NaN: the judge found no claim to check
            return Score(skipped="the judge found no claims in the answer")
        return Score(value=verdict.score,
                     details={"judge": self.judge.name, "claims": [asdict(c) for c in verdict.claims]})


@metric_registry.register("faithfulness")
def _faithfulness(name: str, k: int | None, context: MetricContext) -> Faithfulness:
    spec = MetricSpec(name=name, base="faithfulness", needs=("answer", "passages", "judge"),
                      judge=context.judge.name, version=3)  # 2: a declining answer is not applicable;
    # 3: a quoting answer is not applicable
    return Faithfulness(spec, context.judge, context.abstention)
