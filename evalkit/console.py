"""Terminal output: the candidates × metrics table and gate verdicts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from evalkit.gates import Verdict
    from evalkit.results import CandidateSummary


def summary_table(summaries: list[CandidateSummary], metrics: list[str], title: str) -> Table:
    """Metrics as rows and candidates as columns, so a suite with many metrics stays readable."""
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("metric (mean [95% CI])")
    for summary in summaries:
        table.add_column(summary.name, justify="right")
    for metric in metrics:
        cells = []
        for summary in summaries:
            agg = summary.metrics[metric]
            cell = "–" if agg.mean is None else f"{agg.mean:.3f} [dim][{agg.ci_low:.2f}–{agg.ci_high:.2f}][/dim]"
            if agg.n_errors:
                cell += f" [red]{agg.n_errors} err[/red]"
            cells.append(cell)
        table.add_row(metric, *cells)
    table.add_row("latency p50", *(f"{s.latency_p50_s * 1000:.1f} ms" if not s.skipped else "skipped"
                                   for s in summaries))
    if any(s.usage for s in summaries):
        table.add_row("model calls (cached)", *(f"{s.usage['calls']} ({s.usage['cache_hits']})" if s.usage else "–"
                                                for s in summaries))
        table.add_row("cost", *(_cost(s.usage) for s in summaries))
    return table


def _cost(usage: dict | None) -> str:
    if not usage:
        return "–"
    return "unpriced" if usage["cost_usd"] is None else f"${usage['cost_usd']:.4f}"


def print_verdicts(console: Console, verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        mark = "[green]PASS[/green]" if verdict.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {verdict.candidate}: {verdict.message}", highlight=False)
