"""The `evalkit` Typer app, its consoles, and the entry point with its error handling.

Process-wide settings live here and in the commands, nowhere below: offline environment, thread
counts, the garbage collector during a run. Heavy libraries are imported inside the commands.

Exit codes: 0 every gate passed; 1 a gate failed; 2 bad input or configuration; 3 the run is
incomplete (more errored or missing samples than the error limit allows, or it could not write its
samples); 130 interrupted by SIGINT; 143 stopped by SIGTERM. Interrupted or stopped, a run keeps
every finished sample and writes a summary that says it is incomplete.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from evalkit.core.errors import EvalkitError, ExitCode, RunStopped

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
TracesOpt = Annotated[str, typer.Option("--mlflow-traces", help="Which samples become MLflow traces with assessments: all, failed (errored, or on the failing side of a gate's min or max) or none.", show_default=True)]
BaselineOpt = Annotated[str | None, typer.Option(help="Baseline for no_regression gates: run folder, MLflow run id or name [default: production].")]
JunitOpt = Annotated[Path | None, typer.Option(help="Write JUnit XML (one test case per gate and candidate).")]
MarkdownOpt = Annotated[Path | None, typer.Option(help="Write (append to) a Markdown summary, e.g. $GITHUB_STEP_SUMMARY.")]


def check_traces(choice: str) -> None:
    """Before a run starts: a wrong --mlflow-traces is a user error, not a warning after the run."""
    from evalkit.sinks.traces import trace_choice

    trace_choice(choice, "--mlflow-traces")


def _version(value: bool) -> None:
    if value:
        from evalkit.core.version import __version__

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


NEWEST = "newest"  # what `--resume` alone stands for


def resume_argument(args: list[str]) -> list[str]:
    """`--resume` takes an optional run folder: alone (or before another option or the suite file)
    it means the suite's newest incomplete run."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--resume":
            following = out[i + 1] if i + 1 < len(out) else None
            if following is None or following.startswith("-") or not (Path(following) / "header.json").is_file():
                out[i] = f"--resume={NEWEST}"
    return out



class _Warnings(logging.Handler):
    """evalkit's warnings (a cache it cannot write, a sink that failed) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/yellow] {record.getMessage()}", soft_wrap=True, highlight=False)


T = TypeVar("T")
_received: list[str] = []  # the signal that stopped the run, for its message and exit code


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside a run (a run installs its own, see run_stoppable): stop as Ctrl-C would."""
    _received.append("SIGTERM")
    raise KeyboardInterrupt


def run_stoppable(work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run for a run: SIGINT (asyncio's own handler) and SIGTERM (a cancelled CI job,
    `timeout`) cancel it, so that what finished is kept and the summary is written. SIGTERM does
    not go through SIGINT's handler: a job started in the background by a shell inherits SIGINT
    ignored, and must still stop on SIGTERM."""
    import asyncio

    result: list[T] = []

    async def main() -> None:
        task, loop = asyncio.current_task(), asyncio.get_running_loop()
        assert task is not None

        def stop() -> None:
            _received.append("SIGTERM")
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, stop)
        try:
            result.append(await work)
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, _on_sigterm)

    # the result is handed over outside the task: asyncio.run's exit check formats the main task's
    # repr, result included, and a run of 800 samples took 0.4 s to format for nothing
    asyncio.run(main())
    return result[0]


def _stopped(exc: RunStopped) -> int:
    if exc.reason != "interrupted":
        err.print(f"[red]stopped:[/red] {exc}", soft_wrap=True)
        return int(exc.exit_code)
    name = _received[-1] if _received else "SIGINT"
    err.print(f"interrupted ({name}): {exc.kept_note}", soft_wrap=True)
    return int(ExitCode.TERMINATED if name == "SIGTERM" else ExitCode.INTERRUPTED)


def main() -> None:
    _process_settings()
    warnings = logging.getLogger("evalkit")
    warnings.addHandler(_Warnings())
    warnings.propagate = False
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120  # CI logs: room for three candidates' columns without wrapping
    try:
        code = app(args=resume_argument(sys.argv[1:]), prog_name="evalkit", standalone_mode=False)
    except EvalkitError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(int(exc.exit_code))
    except RunStopped as exc:
        sys.exit(_stopped(exc))
    except (KeyboardInterrupt, typer.Abort):
        code = int(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        show() if callable(show) else err.print(f"error: {exc}")
        sys.exit(int(ExitCode.BAD_INPUT))
    if code == ExitCode.INTERRUPTED:  # typer returns Ctrl-C outside a run as exit code 130
        name = _received[-1] if _received else "SIGINT"  # no run was going: there is no run folder to speak of
        err.print(f"interrupted ({name})")
        sys.exit(int(ExitCode.TERMINATED if name == "SIGTERM" else ExitCode.INTERRUPTED))
    sys.exit(code if isinstance(code, int) else 0)
