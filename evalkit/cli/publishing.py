"""The sinks a command publishes a finished run to, and the one call that does it."""

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
    from evalkit.core.cache import cache_dir as default_cache_dir
    from evalkit.run.passages import texts_for
    from evalkit.sinks.base import Sink, publish
    from evalkit.sinks.ci import JunitSink, MarkdownSink
    from evalkit.sinks.console import ConsoleSink
    from evalkit.sinks.html import HtmlSink
    from evalkit.sinks.mlflow import MlflowSink

    with_texts = texts_for(run, cache_dir or default_cache_dir())  # passage texts for the report and traces
    sinks: list[Sink] = [ConsoleSink(out), HtmlSink(with_texts, _baseline(run, tracking_uri))]
    sinks += [JunitSink(junit)] if junit else []
    sinks += [MarkdownSink(markdown)] if markdown else []
    if log_mlflow:
        sinks.append(MlflowSink(tracking_uri, traces, with_texts))  # type: ignore[arg-type]
    publish(run, sinks, say=lambda line: out.print(line, soft_wrap=True),
            warn=lambda line: err.print(f"[yellow]warning:[/yellow] {line}", soft_wrap=True))


def _baseline(run: Run, tracking_uri: str | None) -> Run | None:
    """The baseline the run was compared with, for the report's per-question change (None if gone)."""
    from evalkit.run.baselines import load

    if run.summary is None or run.summary.baseline is None:
        return None
    return load(run.summary.baseline, run.manifest.suite.name, run.folder.resolve().parent.parent, tracking_uri)
