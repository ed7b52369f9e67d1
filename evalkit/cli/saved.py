"""`evalkit report` and `evalkit compare`: commands on saved run folders (nothing is re-run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.app import BaselineOpt, JunitOpt, MarkdownOpt, RunDirArg, TrackingOpt, app, out
from evalkit.cli.publishing import publish_run


@app.command()
def report(
    run_dir: RunDirArg,
    mlflow: Annotated[bool, typer.Option(help="Also log the run to MLflow again.")] = False,
    tracking_uri: TrackingOpt = None,
    baseline: BaselineOpt = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
) -> None:
    """Re-render a saved run (summary, gates, HTML report) without re-running anything."""
    from evalkit.run.pipeline import finish_folder
    from evalkit.run.store import read_run

    saved = read_run(run_dir)
    # a folder with fewer samples than planned (killed before its summary) is incomplete, whatever it says
    complete = ((saved.summary is None or saved.summary.status == "complete")
                and len(saved.samples) >= saved.manifest.expected_samples)
    finished = finish_folder(saved, complete=complete, baseline=baseline, tracking_uri=tracking_uri)
    publish_run(finished, tracking_uri, log_mlflow=mlflow, junit=junit, markdown=markdown)
    assert finished.summary is not None
    raise typer.Exit(int(finished.summary.exit_code))


@app.command(name="compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The old run folder.", show_default=False)],
    run_b: Annotated[Path, typer.Argument(help="The new run folder.", show_default=False)],
    metric: Annotated[str | None, typer.Option(help="Rank changed cases by this metric [default: the first].")] = None,
    top: Annotated[int, typer.Option(min=1, help="Changed cases to list in each direction.")] = 10,
    html: Annotated[Path | None, typer.Option(help="Write the HTML page here [default: RUN_B/compare-<RUN_A id>.html].")] = None,
) -> None:
    """Paired comparison of two runs: per-metric change with CI and p-value, and the cases that moved most."""
    from rich.table import Table

    from evalkit.analysis.compare import compare_runs
    from evalkit.run.store import read_run
    from evalkit.sinks.html import render_comparison

    old, new = read_run(run_a), read_run(run_b)
    comparison = compare_runs(old, new, metric, top)
    table = Table(title=f"{old.run_id} → {new.run_id} (paired on case id)", title_justify="left")
    for column in ("candidate", "metric", "old", "new", "change [95% CI]", "p", "n"):
        table.add_column(column, justify="left" if column in ("candidate", "metric") else "right")
    for change in comparison.changes:
        r = change.result
        if r is None:
            table.add_row(change.candidate, change.metric, "–", "–", "no shared cases", "–", "0")
            continue
        style = {"worse": "red", "better": "green"}.get(change.verdict, "")
        cell = f"{r.diff:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]"
        table.add_row(change.candidate, change.metric, f"{r.mean_old:.4f}", f"{r.mean_new:.4f}",
                      f"[{style}]{cell}[/{style}]" if style else cell, f"{r.p_value:.4f}",
                      f"{r.n}" + (f" (+{change.unmatched} unmatched)" if change.unmatched else ""))
    out.print(table)
    for title, rows in (("worse", comparison.worse), ("better", comparison.better)):
        out.print(f"[bold]{len(rows)} cases got {title}[/bold] on {comparison.metric}:")
        for row in rows:
            out.print(f"  {row.candidate} {row.case_id}: {row.old:.3f} → {row.new:.3f}  {row.question[:80]}")
    page = render_comparison(comparison, html or run_b / f"compare-{old.run_id}.html")
    out.print(f"html: {page}")
