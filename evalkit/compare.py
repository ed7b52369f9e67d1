"""`evalkit compare RUN_A RUN_B`: paired per-metric comparison and the cases that moved most."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.gates import per_case_scores
from evalkit.paired import PairedComparison, compare

if TYPE_CHECKING:
    from evalkit.results import Run


@dataclass
class MetricChange:
    candidate: str
    metric: str
    result: PairedComparison | None  # None when no case is scored in both runs
    unmatched: int  # cases scored in only one of the runs


@dataclass
class CaseChange:
    candidate: str
    case_id: str
    question: str
    old: float
    new: float

    @property
    def delta(self) -> float:
        return self.new - self.old


@dataclass
class Comparison:
    old: Run
    new: Run
    metric: str  # the metric the case changes are ranked by
    changes: list[MetricChange] = field(default_factory=list)
    worse: list[CaseChange] = field(default_factory=list)
    better: list[CaseChange] = field(default_factory=list)


def compare_runs(old: Run, new: Run, metric: str | None = None, top: int = 10) -> Comparison:
    from evalkit.errors import EvalkitError

    candidates = [c for c in new.candidates if c in old.candidates]
    metrics = [m for m in new.metrics if m in old.metrics]
    if not candidates or not metrics:
        raise EvalkitError("the runs share no candidate and metric to compare",
                           hint=f"{old.folder}: {old.candidates}; {new.folder}: {new.candidates}")
    ranked_by = metric or metrics[0]
    if ranked_by not in metrics:
        raise EvalkitError(f"metric '{ranked_by}' is not in both runs", hint=f"shared: {', '.join(metrics)}")
    result = Comparison(old, new, ranked_by)
    questions = {s["case_id"]: s["question"] for s in new.samples}
    moved: list[CaseChange] = []
    for candidate in candidates:
        for name in metrics:
            a, b = per_case_scores(old.samples, candidate, name), per_case_scores(new.samples, candidate, name)
            shared = sorted(set(a) & set(b))
            paired = compare([a[c] for c in shared], [b[c] for c in shared]) if shared else None
            result.changes.append(MetricChange(candidate, name, paired, len(set(a) ^ set(b))))
            if name == ranked_by:
                moved += [CaseChange(candidate, c, questions.get(c, ""), a[c], b[c]) for c in shared if a[c] != b[c]]
    moved.sort(key=lambda change: (change.delta, change.candidate, change.case_id))
    result.worse = [c for c in moved if c.delta < 0][:top]
    result.better = [c for c in reversed(moved) if c.delta > 0][:top]
    return result


def render_html(comparison: Comparison, path: Path) -> Path:
    from evalkit.report.html import render

    return render("compare.html.j2", path, c=comparison)
