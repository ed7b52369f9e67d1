"""The `evalkit` Typer app, its consoles, and the entry point with its error handling.

Process-wide settings live here and in the commands, nowhere below: offline environment, thread
counts, the garbage collector during a run. Heavy libraries are imported inside the commands.

Exit codes: 0 every gate passed; 1 a gate failed; 2 bad input or configuration;
3 the run is incomplete (more errored samples than the error limit allows); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evalkit.core.errors import EvalkitError, ExitCode

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
RunDirArg = Annotated[Path, typer.Argument(help="A run folder: reports/<suite>/<run-id>.", show_default=False)]
TrackingOpt = Annotated[str | None, typer.Option(help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]")]
BaselineOpt = Annotated[str | None, typer.Option(help="Baseline for no_regression gates: run folder, MLflow run id or name [default: production].")]
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


def _process_settings() -> None:
    """Offline (evalkit.core.offline), quiet (the CLI draws its own progress), every core for torch."""
    from evalkit.core.offline import go_offline

    go_offline()
    for name, value in (("TOKENIZERS_PARALLELISM", "false"), ("TQDM_DISABLE", "1"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("MLFLOW_LOGGING_LEVEL", "WARNING"),
                        ("OMP_NUM_THREADS", str(max(1, os.cpu_count() or 1)))):
        os.environ.setdefault(name, value)


def main() -> None:
    _process_settings()
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
