"""One way to publish a finished run, for the CLI and the pytest plugin alike.

Each sink (console, HTML report, MLflow, JUnit, Markdown) reads the same finished Run. A sink that
fails says so in one line and the others still run: the run's results are already on disk, and
its exit code is the run's own, not the sink's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from evalkit.core.registry import Registry

if TYPE_CHECKING:
    from evalkit.core.run import Run


sink_kinds: Registry[Callable[..., Sink]] = Registry(
    "sink", "evalkit.sinks",
    builtins=("evalkit.sinks.console", "evalkit.sinks.html", "evalkit.sinks.ci", "evalkit.sinks.mlflow"),
)  # a plugin's sink is built with no arguments and published to after the built-in ones


class SinkFailed(Exception):
    """A sink could not publish; its message says why and how to publish later, in one line."""


class Sink(Protocol):
    name: str  # how a failure names it, e.g. "mlflow"

    def publish(self, run: Run) -> str | None:
        """Publish the run; return a line for the console (where it went), or None."""


def publish(run: Run, sinks: list[Sink], say: Callable[[str], None], warn: Callable[[str], None]) -> list[str]:
    """Publish to every sink in order; returns the names of the sinks that failed."""
    from evalkit.core.errors import short_error

    failed = []
    for sink in sinks:
        try:
            line = sink.publish(run)
        except Exception as exc:  # one sink's failure must not lose the others, nor change the exit code
            failed.append(sink.name)
            warn(f"{sink.name}: not published ({exc if isinstance(exc, SinkFailed) else short_error(exc)})")
            continue
        if line:
            say(line)
    return failed
