"""The HTML sink: a run as one self-contained file (inline CSS, no external resources)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.sinks.base import sink_kinds

if TYPE_CHECKING:
    from collections.abc import Callable

    from evalkit.analysis.compare import Comparison
    from evalkit.core.records import Output, Sample
    from evalkit.core.run import Run

REPORT = "report.html"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render(template: str, path: Path, **context: Any) -> Path:
    """Render one of evalkit's HTML templates (autoescaped, self-contained) to `path`."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("evalkit", "sinks/templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = _fmt
    path.write_text(env.get_template(template).render(**context), encoding="utf-8")
    return path


def render_report(run: Run, with_texts: Callable[[Sample], Output] | None = None,
                  baseline: Run | None = None) -> Path:
    """Write report.html into the run folder and return its path. With the run's baseline, a question's
    detail shows the change against it."""
    from evalkit.sinks.report_data import metric_chart, packed, sample_data, tag_breakdown, tradeoff_chart

    assert run.summary is not None
    metrics = [run.manifest.metric(name) for name in run.scored_metrics]
    from evalkit.analysis.verdict import HEADLINES

    scored = [spec.name for spec in metrics if spec.unit == "score" and spec.direction == "higher"]
    headline = next((name for base in HEADLINES for name in scored if name.split("@")[0] == base),
                    scored[0] if scored else None)
    return render(
        "report.html.j2", run.folder / REPORT,
        header=run.manifest, summary=run.summary, summaries=run.summary.candidates,
        metrics=[spec.name for spec in metrics], candidates=run.candidates,
        judges={spec.name: run.manifest.judge_label(spec) for spec in metrics},
        data=packed(sample_data(run, with_texts, baseline)), baseline=baseline, tags=tag_breakdown(run),
        all_tags=sorted({tag for sample in run.samples for tag in sample.tags}),
        metric_chart=metric_chart(run), headline=headline,
        tradeoff=tradeoff_chart(run, headline) if headline else "",
    )


def render_comparison(comparison: Comparison, path: Path) -> Path:
    return render("compare.html.j2", path, c=comparison)


@sink_kinds.register("html")
@dataclass
class HtmlSink:
    with_texts: Callable[[Sample], Output] | None = None  # passage texts for the question detail
    baseline: Run | None = None  # the run's baseline (summary.baseline), for the per-question change
    name = "report"

    def publish(self, run: Run) -> str:
        return f"report: {render_report(run, self.with_texts, self.baseline)}"
