"""Faithfulness: the share of the answer's claims that the retrieved passages support, per its judge."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from evalkit.metrics.base import MetricContext, Score, metric_registry

if TYPE_CHECKING:
    from evalkit.candidates.base import Output
    from evalkit.judges.base import Judge
    from evalkit.suite import Case


@dataclass
class Faithfulness:
    name: str
    judge_impl: Judge
    requires: tuple[str, ...] = ()
    judge: str | None = None

    def __post_init__(self) -> None:
        self.judge = self.judge_impl.name

    async def score(self, case: Case, output: Output) -> Score:
        if not output.answer.strip():
            return Score(skipped="empty answer")
        if not output.passages:
            return Score(skipped="no retrieved passages (a closed-book answer)")
        verdict = await self.judge_impl.faithfulness(case.question, output.answer, output.passages)
        if verdict.score != verdict.score:  # NaN: the judge found no claim to check
            return Score(skipped="the judge found no claims in the answer")
        return Score(verdict.score, details={"judge": self.judge, "claims": [asdict(c) for c in verdict.claims]})


@metric_registry.register("faithfulness")
def _faithfulness(name: str, k: int | None, context: MetricContext) -> Faithfulness:
    return Faithfulness(name, context.judge)
