"""Render a run as one self-contained HTML file (inline CSS, no external resources)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.results import CandidateSummary, Run

REPORT = "report.html"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _cases(run: Run) -> list[dict[str, Any]]:
    """One entry per case, in case order, with each candidate's sample."""
    cases: dict[str, dict[str, Any]] = {}
    for sample in run.samples:
        entry = cases.setdefault(sample["case_id"], {
            "id": sample["case_id"], "question": sample["question"],
            "expected_answer": sample.get("expected_answer"),
            "expected_sources": sample["expected_sources"], "by_candidate": {},
        })
        entry["by_candidate"][sample["candidate"]] = sample
    return list(cases.values())


def render(template: str, path: Path, **context: Any) -> Path:
    """Render one of evalkit's HTML templates (autoescaped, self-contained) to `path`."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("evalkit", "report/templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    path.write_text(env.get_template(template).render(**context), encoding="utf-8")
    return path


def render_report(run: Run, summaries: list[CandidateSummary]) -> Path:
    """Write report.html into the run folder and return its path."""
    return render(
        "report.html.j2", run.folder / REPORT,
        header=run.header, summary=run.summary or {}, summaries=summaries,
        metrics=run.metrics, candidates=run.candidates, cases=_cases(run),
        judges={m["name"]: m.get("judge_agreement") or m.get("judge") for m in run.header["metrics"]},
    )
