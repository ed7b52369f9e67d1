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


def _offline_environment() -> None:
    """No telemetry and no hub downloads from any library evalkit drives."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"),
                        ("RAGAS_DO_NOT_TRACK", "true"), ("MLFLOW_DISABLE_TELEMETRY", "true"),
                        ("DO_NOT_TRACK", "true"), ("TOKENIZERS_PARALLELISM", "false"),
                        ("TQDM_DISABLE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                        ("MLFLOW_LOGGING_LEVEL", "WARNING")):
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
    cache_dir: Annotated[Path | None, typer.Option(help="Index cache [default: .evalkit-cache or $EVALKIT_CACHE_DIR]")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]")] = None,
    mlflow: Annotated[bool, typer.Option(help="Log the run to MLflow.")] = True,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N cases.")] = None,
    max_error_rate: Annotated[float | None, typer.Option(min=0, max=1, help="Share of errored samples above which the run is incomplete (exit 3) [default: the suite's, else 0].")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Samples in flight at once [default: the suite's, else 4].")] = None,
) -> None:
    """Run a suite: every candidate on every case, then metrics, gates, results, MLflow and the HTML report."""
    import asyncio

    from evalkit.cache import cache_dir as default_cache_dir
    from evalkit.suite import load_suite

    loaded = load_suite(suite, limit=limit)
    total = len(loaded.cases) * len(loaded.candidates)
    err.print(f"[bold]{loaded.name}[/bold]: {len(loaded.cases)} cases × {len(loaded.candidates)} candidates")
    from evalkit.runner import run_suite

    with _progress(total) as (advance, stage):
        outcome = asyncio.run(run_suite(
            loaded, reports_dir=reports_dir, cache_dir=cache_dir or default_cache_dir(),
            max_error_rate=max_error_rate, concurrency=concurrency, progress=advance, on_stage=stage,
        ))
    _publish(outcome.folder, tracking_uri if mlflow else None, log_mlflow=mlflow)
    raise typer.Exit(int(outcome.exit_code))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder: reports/<suite>/<run-id>.", show_default=False)],
    mlflow: Annotated[bool, typer.Option(help="Also log the run to MLflow again.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Re-render a saved run (summary, gates, HTML report) without re-running anything."""
    from evalkit.results import read_run
    from evalkit.runner import finish

    saved = read_run(run_dir)
    complete = (saved.summary or {}).get("status", "complete") == "complete"
    outcome = finish(run_dir, saved.header, saved.samples, complete=complete)
    _publish(outcome.folder, tracking_uri, log_mlflow=mlflow)
    raise typer.Exit(int(outcome.exit_code))


def _publish(folder: Path, tracking_uri: str | None, *, log_mlflow: bool) -> None:
    """Render the report, print the table and verdicts, and log to MLflow, all from the saved run."""
    from evalkit.console import print_verdicts, summary_table
    from evalkit.gates import Verdict
    from evalkit.report.html import render_report
    from evalkit.results import read_run, summaries_from_json

    saved = read_run(folder)
    assert saved.summary is not None
    summaries = summaries_from_json(saved.summary["candidates"])
    html = render_report(saved, summaries)
    title = f"{saved.header['suite']['name']} · run {saved.header['run_id']}"
    out.print(summary_table(summaries, saved.metrics, title))
    print_verdicts(out, [Verdict(**g) for g in saved.summary["gates"]])
    summary = saved.summary
    if summary["n_errored_samples"]:
        out.print(f"[yellow]{summary['n_errored_samples']} of {summary['n_samples']} samples errored "
                  f"({summary['error_rate']:.1%}; limit {saved.header['max_error_rate']:.1%})[/yellow]")
    out.print(f"results: {folder}/   report: {html}")
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
    import click

    _offline_environment()
    try:
        code = app(standalone_mode=False)
    except EvalkitError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(int(exc.exit_code))
    except click.ClickException as exc:  # usage errors: unknown option, missing argument
        exc.show()
        sys.exit(int(ExitCode.BAD_INPUT))
    except (KeyboardInterrupt, click.exceptions.Abort):
        err.print("interrupted: finished samples are kept in the run folder")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
