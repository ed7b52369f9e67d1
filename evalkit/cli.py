"""The `evalkit` command line. Heavy libraries are imported inside the commands that need them.

Exit codes: 0 every gate passed; 1 a gate failed; 2 bad input or configuration;
3 the run is incomplete (more errored samples than the error limit allows); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evalkit.errors import EvalkitError, ExitCode

app = typer.Typer(
    name="evalkit",
    help="Evaluate grounded question answering: YAML suites → candidates → metrics → MLflow and HTML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

SuiteArg = Annotated[Path, typer.Argument(help="Suite YAML file.", show_default=False)]
JunitOpt = Annotated[Path | None, typer.Option(help="Write JUnit XML (one test case per gate and candidate).")]
MarkdownOpt = Annotated[Path | None, typer.Option(help="Write (append to) a Markdown summary, e.g. $GITHUB_STEP_SUMMARY.")]


def _version(value: bool) -> None:
    if value:
        from evalkit import __version__

        out.print(f"evalkit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Evaluate grounded question answering: YAML suites → candidates → metrics → MLflow and HTML."""


def _offline_environment() -> None:
    """Offline (evalkit.offline), and quiet: the CLI draws its own progress."""
    from evalkit.offline import go_offline

    go_offline()
    for name, value in (("TOKENIZERS_PARALLELISM", "false"), ("TQDM_DISABLE", "1"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("MLFLOW_LOGGING_LEVEL", "WARNING")):
        os.environ.setdefault(name, value)


@app.command()
def validate(suite: SuiteArg) -> None:
    """Check a suite (schema, corpus, cases, metric names) without running anything."""
    from evalkit.suite import load_suite

    loaded = load_suite(suite)
    corpus = f"{len(loaded.corpus)} documents, " if loaded.corpus else ""
    out.print(f"ok: {suite}: {corpus}{len(loaded.cases)} cases, {len(loaded.candidates)} candidates, "
              f"{len(loaded.spec.metrics)} metrics, {len(loaded.spec.gates)} gates")


@app.command()
def run(
    suite: SuiteArg,
    reports_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("reports"),
    cache_dir: Annotated[Path | None, typer.Option(help="Cache for indexes and model responses [default: .evalkit-cache or $EVALKIT_CACHE_DIR]")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]")] = None,
    mlflow: Annotated[bool, typer.Option(help="Log the run to MLflow.")] = True,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N cases.")] = None,
    max_error_rate: Annotated[float | None, typer.Option(min=0, max=1, help="Share of errored samples above which the run is incomplete (exit 3) [default: the suite's, else 0].")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Samples in flight at once [default: the suite's, else 4].")] = None,
    baseline: Annotated[str | None, typer.Option(help="Baseline for no_regression gates: run folder, MLflow run id or name [default: production].")] = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
    repeat: Annotated[int, typer.Option(min=1, help="Run N times and measure each metric's run-to-run spread (noise.json); the model-call cache is bypassed.")] = 1,
    cache: Annotated[bool, typer.Option(help="Use the model-call cache (--no-cache: call every time, store nothing).")] = True,
    refresh: Annotated[bool, typer.Option(help="Call models again and overwrite their cached responses.")] = False,
    allow_skipped: Annotated[bool, typer.Option(help="Let gates on candidates skipped for missing credentials pass.")] = False,
) -> None:
    """Run a suite: every candidate on every case, then metrics, gates, results, MLflow and the HTML report."""
    import asyncio

    from evalkit.cache import cache_dir as default_cache_dir
    from evalkit.suite import load_suite

    loaded = load_suite(suite, limit=limit)
    total = len(loaded.cases) * sum(not c.missing_credentials() for c in loaded.candidates)
    err.print(f"[bold]{loaded.name}[/bold]: {len(loaded.cases)} cases × {len(loaded.candidates)} candidates")
    from evalkit.runner import run_suite

    outcomes = []
    for number in range(1, repeat + 1):
        if repeat > 1:
            err.print(f"repeat {number} of {repeat}")
        with _progress(total) as (advance, stage):
            outcomes.append(asyncio.run(run_suite(
                loaded, reports_dir=reports_dir, cache_dir=cache_dir or default_cache_dir(),
                max_error_rate=max_error_rate, concurrency=concurrency, progress=advance, on_stage=stage,
                baseline=baseline, tracking_uri=tracking_uri, use_cache=cache and repeat == 1, refresh=refresh,
                allow_skipped=allow_skipped,
            )))
    outcome = outcomes[-1]
    if repeat > 1:
        outcome = _record_noise(outcomes, baseline, tracking_uri)
    _publish(outcome, tracking_uri, log_mlflow=mlflow, junit=junit, markdown=markdown)
    raise typer.Exit(int(outcome.exit_code))


def _record_noise(outcomes: list[Any], baseline: str | None, tracking_uri: str | None) -> Any:
    """Write noise.json into the last run, print the spread, and re-judge its gates with it."""
    from rich.table import Table

    from evalkit.noise import measure, write_noise
    from evalkit.runner import finish

    last = outcomes[-1]
    noise = measure([o.summaries for o in outcomes])
    write_noise(last.folder, noise, [o.folder.name for o in outcomes])
    table = Table(title=f"run-to-run spread over {len(outcomes)} runs (sd of the mean)", title_justify="left")
    table.add_column("metric")
    for name in noise:
        table.add_column(name, justify="right")
    for metric in last.header["metrics"]:
        table.add_row(metric["name"], *(f"{noise[c][metric['name']]['sd']:.4f}" if metric["name"] in noise[c]
                                        else "–" for c in noise))
    out.print(table)
    return finish(last.folder, last.header, last.samples, baseline=baseline, tracking_uri=tracking_uri)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder: reports/<suite>/<run-id>.", show_default=False)],
    mlflow: Annotated[bool, typer.Option(help="Also log the run to MLflow again.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    baseline: Annotated[str | None, typer.Option(help="Baseline for no_regression gates.")] = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
) -> None:
    """Re-render a saved run (summary, gates, HTML report) without re-running anything."""
    from evalkit.results import read_run
    from evalkit.runner import finish

    saved = read_run(run_dir)
    complete = (saved.summary or {}).get("status", "complete") == "complete"
    outcome = finish(run_dir, saved.header, saved.samples, complete=complete, baseline=baseline,
                     tracking_uri=tracking_uri)
    _publish(outcome, tracking_uri, log_mlflow=mlflow, junit=junit, markdown=markdown)
    raise typer.Exit(int(outcome.exit_code))


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

    from evalkit.compare import compare_runs, render_html
    from evalkit.results import read_run

    old, new = read_run(run_a), read_run(run_b)
    comparison = compare_runs(old, new, metric, top)
    table = Table(title=f"{old.header['run_id']} → {new.header['run_id']} (paired on case id)", title_justify="left")
    for column in ("candidate", "metric", "old", "new", "change [95% CI]", "p", "n"):
        table.add_column(column, justify="left" if column in ("candidate", "metric") else "right")
    for change in comparison.changes:
        r = change.result
        if r is None:
            table.add_row(change.candidate, change.metric, "–", "–", "no shared cases", "–", "0")
            continue
        style = "red" if r.ci_high < 0 else "green" if r.ci_low > 0 else ""
        table.add_row(change.candidate, change.metric, f"{r.mean_old:.4f}", f"{r.mean_new:.4f}",
                      f"[{style}]{r.diff:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}][/{style}]" if style
                      else f"{r.diff:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]", f"{r.p_value:.4f}",
                      f"{r.n}" + (f" (+{change.unmatched} unmatched)" if change.unmatched else ""))
    out.print(table)
    for title, rows in (("worse", comparison.worse), ("better", comparison.better)):
        out.print(f"[bold]{len(rows)} cases got {title}[/bold] on {comparison.metric}:")
        for row in rows:
            out.print(f"  {row.candidate} {row.case_id}: {row.old:.3f} → {row.new:.3f}  {row.question[:80]}")
    page = render_html(comparison, html or run_b / f"compare-{old.header['run_id']}.html")
    out.print(f"html: {page}")


@app.command()
def calibrate(
    labels: Annotated[Path, typer.Argument(help="Human-labelled rows (jsonl/csv/parquet): answer, contexts, label.", show_default=False)],
    suite: Annotated[Path | None, typer.Option(help="Calibrate this suite's `judge:` model instead of the offline judge.")] = None,
    data_name: Annotated[str | None, typer.Option(help="Name of the data set, recorded with the figures.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    save: Annotated[Path | None, typer.Option(help="Save the result as JSON [default: reports/calibration/<judge>.json].")] = None,
    mlflow: Annotated[bool, typer.Option(help="Log the figures to MLflow (experiment evalkit-calibration).")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Measure a judge's agreement with human labels: macro-F1, balanced accuracy, AUROC, Cohen's kappa."""
    import json

    from evalkit.cache import cache_dir
    from evalkit.candidates.base import BuildContext
    from evalkit.judges.calibration import calibrate, on_record
    from evalkit.judges.factory import build_judge

    endpoint = None
    if suite is not None:
        from evalkit.suite import load_suite

        endpoint = load_suite(suite).spec.judge
        if endpoint is None:
            raise EvalkitError("the suite has no 'judge:' model to calibrate", where=str(suite),
                               hint="omit --suite to calibrate the offline judge")
    judge = build_judge(endpoint, BuildContext(None, Path("."), cache_dir()))
    result = calibrate(labels, judge, data_name)
    path = save or Path("reports") / "calibration" / f"{result['judge']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if mlflow:
        from evalkit.tracking.mlflow import log_calibration

        log_calibration(result, tracking_uri)
    if json_output:
        print(json.dumps(result, indent=2))
        return
    configured = result["configured"]
    out.print(f"[bold]{result['judge']}[/bold] on {result['data']}: {result['n']} rows "
              f"({result['n_supported']} supported), judged in {result['seconds']:.1f} s")
    out.print(f"as configured ({configured['rule']}):")
    for key in ("macro_f1", "balanced_accuracy", "auroc", "cohen_kappa"):
        figure = configured[key]
        out.print(f"  {key:<18} {figure['value']:.3f}  [{figure['ci_low']:.3f}, {figure['ci_high']:.3f}]")
    best = result["best_threshold"]
    out.print(f"best threshold on this data (in-sample, optimistic): graded score >= {best['threshold']:.3f} "
              f"gives macro-F1 {best['macro_f1']:.3f}")
    record = on_record(result["judge"])
    if record and "method" in record and record.get("data_digest") == result["data_digest"]:
        figure = record["configured"]["macro_f1"]["value"]
        out.print(f"note: {result['judge']} learned its weights from these rows, so the figures above are "
                  f"in-sample; its {record['method'].split(':')[0]} macro-F1 here is {figure:.3f}")
    out.print(f"saved: {path}")


baseline_app = typer.Typer(help="Mark runs as baselines for no_regression gates.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("promote")
def baseline_promote(
    run_dir: Annotated[Path, typer.Argument(help="The run folder to promote.", show_default=False)],
    name: Annotated[str, typer.Option(help="Baseline name.")] = "production",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    mlflow: Annotated[bool, typer.Option(help="Also tag the run in MLflow.")] = True,
) -> None:
    """Make RUN_DIR the baseline NAME: a pointer in reports/<suite>/baselines.json and an MLflow tag."""
    from evalkit.baselines import promote

    for line in promote(run_dir, name, tracking_uri, use_mlflow=mlflow):
        out.print(line)


def _publish(outcome: Any, tracking_uri: str | None, *, log_mlflow: bool, junit: Path | None = None,
             markdown: Path | None = None) -> None:
    """Render the report, print the table and verdicts, and log to MLflow, all from the run's record."""
    from evalkit.console import print_verdicts, summary_table
    from evalkit.report.html import render_report

    saved, summaries, folder = outcome.run, outcome.summaries, outcome.folder
    html = render_report(saved, summaries)
    title = f"{saved.header['suite']['name']} · run {saved.header['run_id']}"
    out.print(summary_table(summaries, saved.metrics, title))
    for candidate in summaries:
        if candidate.skipped:
            out.print(f"[yellow]skipped {candidate.name}: {candidate.skipped}[/yellow]")
    print_verdicts(out, outcome.verdicts)
    summary = outcome.summary
    if summary["n_errored_samples"]:
        out.print(f"[yellow]{summary['n_errored_samples']} of {summary['n_samples']} samples errored "
                  f"({summary['error_rate']:.1%}; limit {saved.header['max_error_rate']:.1%})[/yellow]")
    out.print(f"results: {folder}/   report: {html}")
    if junit:
        from evalkit.ci import write_junit

        write_junit(saved, junit)
    if markdown:
        from evalkit.ci import markdown_summary

        with open(markdown, "a", encoding="utf-8") as handle:
            handle.write(markdown_summary(saved, summaries))
    if log_mlflow:
        from evalkit.tracking.mlflow import default_store_note, log_run

        run_id = log_run(saved, summaries, tracking_uri)
        out.print(f"mlflow: run {run_id} ({default_store_note(tracking_uri)})")


class _progress:
    """A progress bar on a terminal; plain stage lines otherwise (CI logs)."""

    def __init__(self, total: int):
        self.total = total
        self._bar: Any = None

    def __enter__(self) -> tuple[Any, Any]:
        if err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=err, transient=True)
            self._bar.start()
            task = self._bar.add_task("starting", total=self.total)
            return (lambda name: self._bar.update(task, advance=1, description=name),
                    lambda text: self._bar.update(task, description=text))
        return (lambda name: None), (lambda text: err.print(text))

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def main() -> None:
    _offline_environment()
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120  # CI logs: room for three candidates' columns without wrapping
    try:
        code = app(standalone_mode=False)
    except EvalkitError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(int(exc.exit_code))
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted: finished samples are kept in the run folder")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        show() if callable(show) else err.print(f"error: {exc}")
        sys.exit(int(ExitCode.BAD_INPUT))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
