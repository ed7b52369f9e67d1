"""The HTML sink: a run as one self-contained file (inline CSS, no external resources)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.analysis.compare import Comparison
    from evalkit.core.run import Run

REPORT = "report.html"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _cases(run: Run) -> list[dict[str, Any]]:
    """One entry per case, in case order, with each candidate's sample."""
    cases: dict[str, dict[str, Any]] = {}
    for sample in run.samples:
        entry = cases.setdefault(sample.case_id, {
            "id": sample.case_id, "question": sample.question, "expected_answer": sample.expected_answer,
            "expected_sources": sample.expected_sources, "by_candidate": {},
        })
        entry["by_candidate"][sample.candidate] = sample
    return list(cases.values())


def render(template: str, path: Path, **context: Any) -> Path:
    """Render one of evalkit's HTML templates (autoescaped, self-contained) to `path`."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("evalkit", "sinks/templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    path.write_text(env.get_template(template).render(**context), encoding="utf-8")
    return path


def render_report(run: Run) -> Path:
    """Write report.html into the run folder and return its path."""
    assert run.summary is not None
    metrics = [run.manifest.metric(name) for name in run.scored_metrics]
    return render(
        "report.html.j2", run.folder / REPORT,
        header=run.manifest, summary=run.summary, summaries=run.summary.candidates,
        metrics=[spec.name for spec in metrics], candidates=run.candidates, cases=_cases(run),
        judges={spec.name: run.manifest.judge_label(spec) for spec in metrics},
    )


def render_comparison(comparison: Comparison, path: Path) -> Path:
    return render("compare.html.j2", path, c=comparison)


@dataclass
class HtmlSink:
    name = "report"

    def publish(self, run: Run) -> str:
        return f"report: {render_report(run)}"
