"""MLflow publishing in a second process that imports MLflow while the run goes on.

Importing mlflow and its sqlite store takes about 2.8 s, more than half of an unchanged SciFact
re-run (4.8 s). `evalkit run` starts this process first; it imports them on the other core while
the run replays its samples and writes its report, then logs the finished run folder when asked,
with the same MlflowSink as in-process publishing (the same runs, tags, traces and messages).
On one core, or if the process is gone, publishing happens in-process as before.

    python -m evalkit.cli.mlflow_ahead   (reads one JSON request on stdin, writes one JSON reply)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.core.run import Run


@dataclass
class MlflowAhead:
    """The sink `evalkit run` publishes to MLflow with: the request goes to the process started
    ahead, or, when there is none, to MlflowSink in this process."""

    tracking_uri: str | None = None
    traces: str = "failed"
    cache_dir: Path | None = None
    name = "mlflow"
    process: subprocess.Popen[str] | None = field(default=None, init=False)

    def start(self) -> MlflowAhead:
        if (os.cpu_count() or 1) > 1:
            with contextlib.suppress(OSError):
                self.process = subprocess.Popen([sys.executable, "-m", "evalkit.cli.mlflow_ahead"], text=True,
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL)
        return self

    def publish(self, run: Run) -> str:
        from evalkit.sinks.base import SinkFailed

        reply = self._ask(run) if self.process is not None else None
        if reply is None:
            return self._in_process(run)
        if "failed" in reply:
            raise SinkFailed(reply["failed"])
        return str(reply["line"])

    def _ask(self, run: Run) -> dict[str, Any] | None:
        """The child's reply, or None when it cannot give one (it died, or never started)."""
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        assert run.summary is not None
        request = {"folder": str(run.folder), "summary": run.summary.model_dump(mode="json", by_alias=True),
                   "tracking_uri": self.tracking_uri, "traces": self.traces,
                   "cache_dir": str(self.cache_dir) if self.cache_dir else None}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.close()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            return None
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the child ends its MLflow runs as KILLED, then we stop
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
            raise
        finally:
            self.stop()
        return json.loads(line) if line.strip() else None

    def _in_process(self, run: Run) -> str:
        return _sink(run, self.tracking_uri, self.traces, self.cache_dir).publish(run)

    def stop(self) -> None:
        """The child is not needed (any more). Asked nothing, it is killed: it holds nothing but
        imports. Asked, it has answered, and exits when its input closes."""
        if self.process is None:
            return
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.kill()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None


def _sink(run: Run, tracking_uri: str | None, traces: str, cache_dir: Path | None) -> Any:
    """The MlflowSink `evalkit.publish` would use: with the run's passage texts for its traces."""
    from evalkit.core.cache import cache_dir as default_cache_dir
    from evalkit.runner.passages import texts_for
    from evalkit.sinks.mlflow import MlflowSink
    from evalkit.sinks.traces import trace_choice

    return MlflowSink(tracking_uri, trace_choice(traces), texts_for(run, cache_dir or default_cache_dir()))


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # MlflowSink then ends the MLflow runs it started as KILLED


def main() -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and sends SIGTERM to stop a logging
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    # the reply gets stdout to itself: MLflow writes "View run ... at" lines there for a server
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from evalkit.core.offline import import_mlflow

    import_mlflow()
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (what the first call to a sqlite store imports)

    line = sys.stdin.readline()
    if not line.strip():
        return  # the run stopped or published nothing to MLflow
    request = json.loads(line)
    from evalkit.core.run import Summary
    from evalkit.runner.store import read_run
    from evalkit.sinks.base import SinkFailed

    try:
        run = read_run(Path(request["folder"]))
        run = run.model_copy(update={"summary": Summary.model_validate(request["summary"])})
        cache_dir = Path(request["cache_dir"]) if request["cache_dir"] else None
        reply = {"line": _sink(run, request["tracking_uri"], request["traces"], cache_dir).publish(run)}
    except SinkFailed as exc:
        reply = {"failed": str(exc)}
    except Exception as exc:
        from evalkit.core.errors import short_error

        reply = {"failed": short_error(exc)}
    replies.write(json.dumps(reply) + "\n")
    replies.flush()


if __name__ == "__main__":
    main()
