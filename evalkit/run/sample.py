"""One case x candidate: ask the candidate, then score its output. What every executor runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from evalkit.candidates.base import BuildContext, Candidate
from evalkit.config.suite import Suite
from evalkit.core.errors import EvalkitError, short_error
from evalkit.core.records import Case, Output, Sample
from evalkit.core.redact import Redactor, named_secrets
from evalkit.metrics.base import Metric
from evalkit.run.plan import WorkItem
from evalkit.run.score import score_output


class Sampler:
    """Builds each candidate once, prepares it for its cases, and turns work items into samples."""

    def __init__(self, suite: Suite, metrics: list[Metric], context: BuildContext, judge_missing: str | None,
                 announce: Callable[[str], None] | None = None):
        self._configs = {config.name: config for config in suite.candidates}
        self.metrics, self.context, self.judge_missing = metrics, context, judge_missing
        self._redact = Redactor(named_secrets([*suite.candidates, *([suite.spec.judge] if suite.spec.judge else [])]))
        self._announce = announce  # told which candidate is being prepared (index builds take minutes)
        self.candidates: dict[str, Candidate] = {}
        self._failures: dict[str, str] = {}  # candidate -> why its preparation failed

    async def prepare(self, name: str, cases: list[Case]) -> None:
        """Build and prepare a candidate; a failure that is not the user's input fails all its samples."""
        if self._announce:
            self._announce(f"preparing {name}")
        candidate = self._configs[name].build(self.context)
        self.candidates[name] = candidate
        try:
            await candidate.prepare(cases)
        except EvalkitError:
            raise
        except Exception as exc:
            self._failures[name] = f"prepare failed: {short_error(exc)}"

    async def sample(self, item: WorkItem) -> Sample:
        case = item.case
        failure = self._failures.get(item.candidate)
        output = Output(error=failure) if failure else await self._answer(self.candidates[item.candidate], case)
        started = time.perf_counter()
        retrieves = self._configs[item.candidate].retrieves()
        scores = await score_output(self.metrics, case, output, self.judge_missing, retrieves)
        for score in scores.values():
            score.error = self._redact(score.error)
        output = output.model_copy(update={"passages": [p.stored() for p in output.passages],
                                           "latency_s": round(output.latency_s, 6),
                                           "answer": self._redact(output.answer) or "",
                                           "error": self._redact(output.error)})
        return Sample(candidate=item.candidate, case_id=case.id, key=item.key, question=case.question,
                      expected_answer=case.expected_answer, expected_sources=list(case.expected_sources),
                      tags=list(case.tags), output=output, scores=scores,
                      score_s=round(time.perf_counter() - started, 6))

    @staticmethod
    async def _answer(candidate: Candidate, case: Case) -> Output:
        started = time.perf_counter()
        try:
            return await candidate.answer(case)
        except Exception as exc:
            return Output(error=short_error(exc), latency_s=time.perf_counter() - started)

    def spenders(self) -> dict[str, Any]:
        """Each built candidate's call statistics (None for candidates that make no model calls)."""
        return {f"candidate:{name}": candidate.stats for name, candidate in self.candidates.items()}
