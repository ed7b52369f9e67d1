"""Terminal output: the candidates × metrics table and gate verdicts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from evalkit.gates import Verdict
    from evalkit.results import CandidateSummary


def summary_table(summaries: list[CandidateSummary], metrics: list[str], title: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("candidate", style="bold")
    for metric in metrics:
        table.add_column(metric, justify="right")
    table.add_column("p50 latency", justify="right")
    for summary in summaries:
        cells = []
        for metric in metrics:
            agg = summary.metrics[metric]
            if agg.mean is None:
                cell = "–"
            else:
                cell = f"{agg.mean:.3f} [dim]±[{agg.ci_low:.3f},{agg.ci_high:.3f}][/dim]"
            if agg.n_errors:
                cell += f" [red]{agg.n_errors} err[/red]"
            cells.append(cell)
        table.add_row(summary.name, *cells, f"{summary.latency_p50_s * 1000:.1f} ms")
    return table


def print_verdicts(console: Console, verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        mark = "[green]PASS[/green]" if verdict.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {verdict.candidate}: {verdict.message}", highlight=False)
