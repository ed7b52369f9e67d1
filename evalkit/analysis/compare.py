"""`evalkit compare RUN_A RUN_B`: paired per-metric comparison and the cases that moved most."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evalkit.analysis.paired import PairedComparison, compare
from evalkit.analysis.values import per_case_values

if TYPE_CHECKING:
    from evalkit.core.run import Run
    from evalkit.core.specs import MetricSpec


@dataclass
class MetricChange:
    candidate: str
    metric: str
    result: PairedComparison | None  # None when no case is scored in both runs
    unmatched: int  # cases scored in only one of the runs
    sign: int = 1  # the metric's direction: +1 when higher is better

    @property
    def verdict(self) -> str:
        """"better" or "worse" when the CI of the change excludes 0, else ""."""
        if self.result is None:
            return ""
        low, high = sorted((self.sign * self.result.ci_low, self.sign * self.result.ci_high))
        return "better" if low > 0 else "worse" if high < 0 else ""


@dataclass
class CaseChange:
    candidate: str
    case_id: str
    question: str
    old: float
    new: float
    sign: int = 1

    @property
    def delta(self) -> float:
        """The improvement: new - old in the metric's better direction."""
        return self.sign * (self.new - self.old)


@dataclass
class Comparison:
    old: Run
    new: Run
    metric: str  # the metric the case changes are ranked by
    changes: list[MetricChange] = field(default_factory=list)
    worse: list[CaseChange] = field(default_factory=list)
    better: list[CaseChange] = field(default_factory=list)


def compare_runs(old: Run, new: Run, metric: str | None = None, top: int = 10) -> Comparison:
    from evalkit.core.errors import EvalkitError

    candidates = [c for c in new.candidates if c in old.candidates]
    metrics = [m for m in new.metrics if m in old.metrics]
    if not candidates or not metrics:
        raise EvalkitError("the runs share no candidate and metric to compare",
                           hint=f"{old.folder}: {old.candidates}; {new.folder}: {new.candidates}")
    gated = [g.metric for g in new.manifest.gates if g.metric in metrics]
    ranked_by = metric or (gated[0] if gated else metrics[0])  # what the release is gated on comes first
    if ranked_by not in metrics:
        raise EvalkitError(f"metric '{ranked_by}' is not in both runs", hint=f"shared: {', '.join(metrics)}")
    result = Comparison(old, new, ranked_by)
    questions = {s.case_id: s.question for s in new.samples}
    moved: list[CaseChange] = []
    for candidate in candidates:
        for name in metrics:
            spec: MetricSpec = new.manifest.metric(name)
            a, b = per_case_values(old.samples, candidate, spec), per_case_values(new.samples, candidate, spec)
            shared = sorted(set(a) & set(b))
            paired = (compare([a[c] for c in shared], [b[c] for c in shared], aggregate=spec.aggregate,
                              sign=spec.sign) if shared else None)
            result.changes.append(MetricChange(candidate, name, paired, len(set(a) ^ set(b)), spec.sign))
            if name == ranked_by:
                moved += [CaseChange(candidate, c, questions.get(c, ""), a[c], b[c], spec.sign)
                          for c in shared if a[c] != b[c]]
    moved.sort(key=lambda change: (change.delta, change.candidate, change.case_id))
    result.worse = [c for c in moved if c.delta < 0][:top]
    result.better = [c for c in reversed(moved) if c.delta > 0][:top]
    return result


