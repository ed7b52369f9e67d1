"""The one call that publishes a finished run from a command: evalkit.api.publish, to the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.cli.app import err, out

if TYPE_CHECKING:
    from evalkit.core.run import Run
    from evalkit.sinks.base import Sink


def publish_run(run: Run, tracking_uri: str | None, *, log_mlflow: bool, junit: Path | None = None,
                markdown: Path | None = None, traces: str = "failed", cache_dir: Path | None = None,
                mlflow_sink: Sink | None = None) -> None:
    """Console table and verdicts, the HTML report, then JUnit, Markdown and MLflow (which logs the
    report), all from the finished run. `mlflow_sink` logs to MLflow instead of the API's own sink
    (`evalkit run`'s, which imported MLflow ahead in a second process)."""
    from evalkit.api import publish

    ahead = [mlflow_sink] if log_mlflow and mlflow_sink is not None else []
    publish(run, console=out, mlflow=log_mlflow and not ahead, tracking_uri=tracking_uri, traces=traces, junit=junit,
            markdown=markdown, cache_dir=cache_dir, sinks=ahead,
            say=lambda line: out.print(line, soft_wrap=True),
            warn=lambda line: err.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True))
