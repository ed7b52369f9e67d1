"""The one call that publishes a finished run from a command: evalkit.api.publish, to the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.cli.app import err, out

if TYPE_CHECKING:
    from evalkit.core.run import Run


def publish_run(run: Run, tracking_uri: str | None, *, log_mlflow: bool, junit: Path | None = None,
                markdown: Path | None = None, traces: str = "failed", cache_dir: Path | None = None) -> None:
    """Console table and verdicts, the HTML report, then JUnit, Markdown and MLflow (which logs the
    report), all from the finished run."""
    from evalkit.api import publish

    publish(run, console=out, mlflow=log_mlflow, tracking_uri=tracking_uri, traces=traces, junit=junit,
            markdown=markdown, cache_dir=cache_dir, say=lambda line: out.print(line, soft_wrap=True),
            warn=lambda line: err.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True))
