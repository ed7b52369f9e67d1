"""`evalkit report` and `evalkit compare`: commands on saved run folders (nothing is re-run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.app import (
    BaselineOpt,
    JunitOpt,
    MarkdownOpt,
    RunDirArg,
    TracesOpt,
    TrackingOpt,
    app,
    check_traces,
    err,
    out,
    run_stoppable,
)
from evalkit.cli.publishing import publish_run


@app.command()
def report(
    run_dir: RunDirArg,
    mlflow: Annotated[bool, typer.Option(help="Also log the run to MLflow again.")] = False,
    mlflow_traces: TracesOpt = "failed",
    tracking_uri: TrackingOpt = None,
    baseline: BaselineOpt = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
    labels: Annotated[Path | None, typer.Option(help="Human labels (evalkit labels sample): PPI estimates of judged metrics [default: the suite's labels:].", show_default=False)] = None,
) -> None:
    """Re-render a saved run (summary, gates, HTML report) without re-running anything."""
    from evalkit.api import read_run
    from evalkit.runner.passages import suite_changed

    check_traces(mlflow_traces)
    finished = read_run(run_dir, baseline=baseline, tracking_uri=tracking_uri, labels=labels)
    if finished.run.passages is not None and (note := suite_changed(finished.run)):
        err.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    publish_run(finished.run, tracking_uri, log_mlflow=mlflow, junit=junit, markdown=markdown, traces=mlflow_traces)
    raise typer.Exit(finished.exit_code)


@app.command(name="compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The old run folder.", show_default=False)],
    run_b: Annotated[Path, typer.Argument(help="The new run folder.", show_default=False)],
    metric: Annotated[str | None, typer.Option(help="Rank changed cases by this metric [default: the first gated one, else the first].")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list the metrics that did not change.")] = False,
    top: Annotated[int, typer.Option(min=1, help="Changed cases to list in each direction.")] = 10,
    html: Annotated[Path | None, typer.Option(help="Write the HTML page here [default: RUN_B/compare-<RUN_A id>.html].")] = None,
) -> None:
    """Paired comparison of two runs: per-metric change with CI and p-value, and the cases that moved most."""
    from rich.table import Table

    from evalkit.api import compare
    from evalkit.runner.store import read_run
    from evalkit.sinks.html import render_comparison

    old, new = read_run(run_a, passages=False), read_run(run_b, passages=False)
    comparison = compare(old, new, metric=metric, top=top)
    table = Table(title=f"{old.run_id} → {new.run_id} (paired on case id)", title_justify="left")
    for column in ("candidate", "metric", "old", "new", "change [95% CI]", "p", "n"):
        table.add_column(column, justify="left" if column in ("candidate", "metric") else "right")
    unchanged = 0
    for change in comparison.changes:
        r = change.result
        if not show_all and r is not None and r.diff == 0 and r.ci_low == 0 and r.ci_high == 0 and not change.unmatched:
            unchanged += 1
            continue
        if r is None:
            table.add_row(change.candidate, change.metric, "–", "–", "no shared cases", "–", "0")
            continue
        style = {"worse": "red", "better": "green"}.get(change.verdict, "")
        cell = f"{r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
        table.add_row(change.candidate, change.metric, f"{r.mean_old:.3f}", f"{r.mean_new:.3f}",
                      f"[{style}]{cell}[/{style}]" if style else cell, f"{r.p_value:.4f}",
                      f"{r.n}" + (f" (+{change.unmatched} unmatched)" if change.unmatched else ""))
    out.print(table)
    if unchanged:
        out.print(f"{unchanged} candidate × metric pairs the same on every shared case are left out (--all shows them)")
    for title, rows in (("worse", comparison.worse), ("better", comparison.better)):
        out.print(f"[bold]{len(rows)} cases got {title}[/bold] on {comparison.metric}:")
        for row in rows:
            out.print(f"  {row.candidate} {row.case_id}: {row.old:.3f} → {row.new:.3f}  {row.question[:80]}")
    page = render_comparison(comparison, html or run_b / f"compare-{old.run_id}.html")
    out.print(f"html: {page}")


@app.command(name="export")
def export_command(
    run_dir: RunDirArg,
    fmt: Annotated[str, typer.Option("--format", help="parquet (one file, for pandas) or dataset (a Hugging Face dataset folder).")] = "parquet",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write [default: RUN_DIR/samples.parquet or RUN_DIR/dataset].")] = None,
) -> None:
    """Write a saved run's samples (answers, retrieved ids, latency, cost, one column per metric) for pandas or datasets."""
    from evalkit.core.errors import EvalkitError
    from evalkit.runner.export import export_run
    from evalkit.runner.store import read_run

    if fmt not in ("parquet", "dataset"):
        raise EvalkitError(f"unknown export format '{fmt}'", hint="use --format parquet or --format dataset")
    saved = read_run(run_dir, passages=False)  # the table has retrieved ids, not texts
    target = output or run_dir / ("samples.parquet" if fmt == "parquet" else "dataset")
    written = export_run(saved, target, fmt)  # type: ignore[arg-type]
    out.print(f"{len(saved.samples)} samples → {written}")


@app.command()
def rescore(
    run_dir: RunDirArg,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics to compute [default: the run's].")] = None,
    judge: Annotated[str | None, typer.Option(help="offline, model or ragas (a model kind uses the suite's judge model), or a YAML file with a judge: mapping [default: the suite's judge].")] = None,
    reports_dir: Annotated[Path, typer.Option(help="Where the new run folder is written.")] = Path("reports"),
    cache_dir: Annotated[Path | None, typer.Option(help="Cache for chunks and judge responses [default: .evalkit-cache or $EVALKIT_CACHE_DIR]")] = None,
    mlflow: Annotated[bool, typer.Option(help="Log the new run to MLflow.")] = True,
    tracking_uri: TrackingOpt = None,
) -> None:
    """Score a saved run's outputs again (other metrics, another judge) as a new run; no candidate runs."""
    from evalkit.core.cache import cache_dir as default_cache_dir
    from evalkit.runner.rescore import rescore as rescore_run
    from evalkit.runner.store import read_run

    source = read_run(run_dir)
    names = [name.strip() for name in metrics.split(",") if name.strip()] if metrics else None
    spec = _judge_spec(judge, source.manifest.judge.spec if source.manifest.judge else None) if judge else None
    finished = run_stoppable(rescore_run(source, reports_dir=reports_dir, cache_dir=cache_dir or default_cache_dir(),
                                       metrics=names, judge=spec))
    out.print(f"rescored {source.run_id} as {finished.run_id}")
    publish_run(finished, tracking_uri, log_mlflow=mlflow)
    assert finished.summary is not None
    raise typer.Exit(int(finished.summary.exit_code))


def _judge_spec(value: str, current: dict | None) -> object:
    """A judge spec from `--judge`: a kind, or a YAML file holding a judge mapping."""
    from pydantic import TypeAdapter, ValidationError

    from evalkit.core.errors import EvalkitError
    from evalkit.judges.spec import JUDGE_KINDS, JudgeSpec

    if value in JUDGE_KINDS:
        data: dict = {"kind": value}
        if value != "offline":
            if not current or "model" not in current:
                raise EvalkitError(f"--judge {value} needs a model, and the run's judge has none",
                                   hint="pass a YAML file with kind, model and base_url")
            data = {**current, "kind": value}
    else:
        from evalkit.config.yaml_source import YamlSource

        data = YamlSource(Path(value)).data
        data = data.get("judge", data) if isinstance(data, dict) else data
    try:
        return TypeAdapter(JudgeSpec).validate_python(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise EvalkitError(f"not a judge spec ({'.'.join(map(str, problem['loc']))}: {problem['msg']})",
                           where=value, hint=f"kind is one of {', '.join(JUDGE_KINDS)}") from None
