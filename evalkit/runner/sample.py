"""One case x candidate: ask the candidate, then score its output. What every executor runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from evalkit.candidates.base import BuildContext, Candidate
from evalkit.config.suite import Suite
from evalkit.core.cache import StageCache, content_key
from evalkit.core.errors import EvalkitError, short_error
from evalkit.core.records import Case, Output, Sample, Score
from evalkit.core.redact import Redactor, named_secrets
from evalkit.core.specs import BudgetSpec
from evalkit.core.version import __version__
from evalkit.metrics.base import Metric
from evalkit.runner.passages import PassageTexts
from evalkit.runner.plan import WorkItem
from evalkit.runner.score import score_output


class Sampler:
    """Builds each candidate once, prepares it for its cases, and turns work items into samples.

    With a stage cache, an output computed before for the same work (a reproducible candidate:
    same case, config, corpus and evalkit version) is replayed without building the candidate, and
    a score computed before for the same output, metric and judge is reused: an unchanged re-run
    computes nothing, an added metric computes only that metric."""

    def __init__(self, suite: Suite, metrics: list[Metric], context: BuildContext, judge_missing: str | None,
                 announce: Callable[[str], None] | None = None, stages: StageCache | None = None,
                 judge_key: Any = None, budget: BudgetSpec | None = None,
                 spent: Callable[[], tuple[float, int]] | None = None, judge_stats: Any = None):
        self._configs = {config.name: config for config in suite.candidates}
        self.metrics, self.context, self.judge_missing = metrics, context, judge_missing
        self._redact = Redactor(named_secrets([*suite.candidates, *([suite.spec.judge] if suite.spec.judge else [])]))
        self._announce = announce  # told which candidate is being prepared (index builds take minutes)
        self.candidates: dict[str, Candidate] = {}
        self._failures: dict[str, str] = {}  # candidate -> why its preparation failed
        self.stages, self._judge_key = stages, judge_key
        self._corpus_hash = suite.corpus.content_hash if suite.corpus else ""
        self._params = {config.name: config.flat_params() for config in suite.candidates}
        self.passages = PassageTexts(context)
        self._cached: dict[str, Output] = {}  # work key -> output replayed from the stage cache
        self.budget, self._spent = budget, spent
        self.stopped: str | None = None  # why no new sample may start (the budget was reached)
        self.judge_stats = judge_stats  # the judge's call statistics, where usage from other processes adds up
        self._remote: dict[str, Any] = {}  # candidate -> call statistics of its calls in other processes

    def output_key(self, item: WorkItem) -> str | None:
        """The stage-cache key of an item's output, or None for a candidate whose outputs are not
        reproducible from its config (its code or file may change under the same config)."""
        config = self._configs[item.candidate]
        if not config.reproducible():
            return None
        return content_key("output", item.key, self._corpus_hash if config.needs_corpus() else "", __version__)

    def preload(self, items: list[WorkItem]) -> int:
        """Look up the items' outputs in the stage cache; returns how many were found."""
        if self.stages is None:
            return 0
        keys = {item.key: key for item in items if (key := self.output_key(item))}
        found = self.stages.get_many(list(keys.values()))
        self._cached = {work: Output.model_validate_json(found[key]) for work, key in keys.items() if key in found}
        return len(self._cached)

    def replays(self, item: WorkItem) -> bool:
        """The item's output is in the stage cache (preload): a sample without running the candidate."""
        return item.key in self._cached

    def add_usage(self, usage: dict[str, dict[str, Any]]) -> None:
        """Add model-call usage counted in another process (a Ray worker): per owner "candidate:<name>"
        or "judge", what its CallStats gained (CallStats.gained_since)."""
        from evalkit.models.llm import CallStats

        for owner, gained in usage.items():
            stats = self.judge_stats if owner == "judge" else self._remote.setdefault(owner, CallStats())
            if stats is not None:
                stats.add(gained)

    async def prepare(self, name: str, items: list[WorkItem]) -> None:
        """Build and prepare a candidate for the items it must answer (none when all are cached); a
        failure that is not the user's input fails all its samples."""
        cases = [item.case for item in items if item.key not in self._cached]
        if not cases:
            return
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

    async def sample(self, item: WorkItem) -> Sample | None:
        """The item's sample; None when the budget was reached before it started (it is left to a resume)."""
        if (cached := self._cached.get(item.key)) is not None:
            return await self._scored(item, None, cached)
        if self.budget is not None and self._spent is not None and self.stopped is None:
            self.stopped = self.budget.reached(*self._spent())
        if self.stopped is not None:
            return None
        failure = self._failures.get(item.candidate)
        output = Output(error=failure) if failure else await self._answer(self.candidates[item.candidate], item.case)
        stored = self._redact.record(output.model_copy(update={
            "passages": [p.stored() for p in output.passages], "latency_s": round(output.latency_s, 6)}))
        if self.stages is not None and not stored.error and (key := self.output_key(item)):
            self.stages.put_many("output", {key: stored.model_dump_json()})
        return await self._scored(item, output, stored)

    async def _scored(self, item: WorkItem, fresh: Output | None, stored: Output) -> Sample:
        """Score an output (`fresh` with its passage texts, or only `stored`: replayed from the cache)."""
        case, started = item.case, time.perf_counter()
        keys: dict[str, str] = {}
        scores: dict[str, Score] = {}
        if self.stages is not None and not stored.error:
            scored = content_key(self._judge_key, case.key_fields(), stored.model_dump(mode="json"),
                                 __version__)  # what every metric of this sample is computed from
            keys = {m.spec.name: content_key("score", m.spec.model_dump(mode="json"), scored) for m in self.metrics}
            found = self.stages.get_many(list(keys.values()))
            scores = {name: Score.model_validate_json(found[key]) for name, key in keys.items() if key in found}
        missing = [m for m in self.metrics if m.spec.name not in scores]
        if missing:
            output = fresh
            if output is None:  # replayed: corpus passages have node ids only, read texts if a metric reads them
                reads = any({"passages", "judge"} & set(m.spec.needs) for m in missing)
                output = self.passages.fill(stored, self._params[item.candidate]) if reads else stored
            retrieves = self._configs[item.candidate].retrieves()
            computed = {name: self._redact.record(score)
                        for name, score in (await score_output(missing, case, output, self.judge_missing,
                                                               retrieves)).items()}
            scores.update(computed)
            if self.stages is not None and keys:  # an error is not kept: it is computed again next time
                self.stages.put_many("score", {keys[name]: score.model_dump_json()
                                               for name, score in computed.items() if not score.error})
        in_order = {m.spec.name: scores[m.spec.name] for m in self.metrics}
        return Sample(candidate=item.candidate, case_id=case.id, key=item.key, position=item.position,
                      question=case.question,
                      expected_answer=case.expected_answer,
                      accepted_answers=list(case.accepted_answers), expected_sources=list(case.expected_sources),
                      tags=list(case.tags), answerable=case.answerable, distractors=list(case.distractors),
                      stale_answers=list(case.stale_answers), expect=list(case.expect),
                      output=stored, scores=in_order,
                      score_s=round(time.perf_counter() - started, 6), cached=fresh is None)

    @staticmethod
    async def _answer(candidate: Candidate, case: Case) -> Output:
        started = time.perf_counter()
        try:
            return await candidate.answer(case)
        except Exception as exc:
            return Output(error=short_error(exc), latency_s=time.perf_counter() - started)

    def spenders(self) -> dict[str, Any]:
        """Each built candidate's call statistics (None for candidates that make no model calls)."""
        built = {f"candidate:{name}": candidate.stats for name, candidate in self.candidates.items()}
        return {**built, **{owner: stats for owner, stats in self._remote.items() if built.get(owner) is None}}
