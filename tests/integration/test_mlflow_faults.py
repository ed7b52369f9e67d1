"""MLflow down, unwritable, raced or interrupted: the run's results and exit code stand, one warning
line says MLflow was not logged and how to log it later, and no MLflow run is left RUNNING."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def saved_run(v1_run: Path) -> Path:
    """A finished run folder: `evalkit report RUN --mlflow` logs it in about a second."""
    return v1_run


def report(run: Path, *args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "300"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "evalkit", "report", str(run), "--mlflow", *args], cwd=cwd,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_an_unreachable_server_is_one_warning_and_the_runs_own_exit_code(saved_run: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    process = report(saved_run, "--tracking-uri", uri, cwd=tmp_path)
    _, stderr = process.communicate(timeout=45)  # MLflow's own client retried for about 4 minutes
    assert process.returncode == 0, stderr
    assert stderr.strip().splitlines() == [
        f"warning: mlflow: not published (MLflow at {uri} is unreachable ([Errno 111] Connection refused); log it "
        f"later with: evalkit report {saved_run} --mlflow --tracking-uri {uri})"]


def test_a_store_it_cannot_write_is_one_warning(saved_run: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    process = report(saved_run, "--tracking-uri", f"sqlite:///{tmp_path}/a-file/mlflow.db", cwd=tmp_path)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith("warning: mlflow: not published (") and "log it later with: evalkit report" in line
    assert "report: " in stdout  # the other sinks still ran


def test_three_runs_at_once_on_a_new_store_all_log(saved_run: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    processes = [report(saved_run, "--tracking-uri", uri, cwd=tmp_path) for _ in range(3)]
    results = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], results
    assert all("warning" not in stderr for _, stderr in results), results
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("evalkit-tiny")
    runs = client.search_runs([experiment.experiment_id])  # one evalkit run: logged into the same MLflow runs
    assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}


@pytest.mark.parametrize(("fault", "status"), [(KeyboardInterrupt, "KILLED"), (RuntimeError, "FAILED")])
def test_a_fault_while_logging_never_leaves_a_run_running(saved_run: Path, tmp_path: Path, fault: type,
                                                          status: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from evalkit.runner.pipeline import finish_folder
    from evalkit.runner.store import read_run
    from evalkit.sinks import mlflow as sink

    def broken(run: object, candidate: str) -> list:
        raise fault

    monkeypatch.setattr(sink, "_table_rows", broken)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # mlflow.set_tracking_uri exports it; restored after the test
    run = finish_folder(read_run(saved_run), complete=True)
    with pytest.raises(fault):
        sink.log_run(run, uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("evalkit-tiny")
    assert {r.info.status for r in client.search_runs([experiment.experiment_id])} == {status}


def test_logging_a_run_again_updates_its_mlflow_runs(saved_run: Path, tmp_path: Path) -> None:
    """A resumed run, or a report logged again, goes into the MLflow runs it has, not new ones."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    for _ in range(2):
        process = report(saved_run, "--tracking-uri", uri, cwd=tmp_path)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("evalkit-tiny").experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["20261125-090020-97ed", "bm25", "product"]
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_a_server_whose_api_fails_behind_a_healthy_health_check_is_one_warning(saved_run: Path, tmp_path: Path) -> None:
    """/health answers 200 while every API call answers 503 (the server is up, its database down):
    the run ends within seconds with the warning, not after MLflow's minutes of retries."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class HalfDown(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            healthy = self.path == "/health"
            self.send_response(200 if healthy else 503)
            self.end_headers()
            self.wfile.write(b"OK" if healthy else b"database is down")

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), HalfDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        started = time.monotonic()
        process = report(saved_run, "--tracking-uri", uri, cwd=tmp_path)
        _, stderr = process.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        server.shutdown()
    assert process.returncode == 0, stderr
    assert stderr.strip().splitlines() == [
        f"warning: mlflow: not published (MLflow at {uri} answers its API with HTTP 503 (database is down); log it "
        f"later with: evalkit report {saved_run} --mlflow --tracking-uri {uri})"]
    assert took < 30, took


def test_a_new_sqlite_store_is_created_whole_or_not_at_all(saved_run: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while MLflow creates a new store (its tables made, its migrations not all run) leaves
    no store at all, so the next run creates it afresh and logs; it used to leave one that no later
    run could open ("table ... already exists")."""
    from evalkit.sinks import mlflow as sink

    path = tmp_path / "mlflow.db"

    def interrupted(source: object, target: object) -> None:  # the store made, the signal before it is in place
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt), sink.store_lock(f"sqlite:///{path}"):
            pass
    assert not path.exists() and not list(tmp_path.glob(".*.creating"))
    process = report(saved_run, "--tracking-uri", f"sqlite:///{path}", cwd=tmp_path)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "mlflow: run" in stdout, stderr


def test_the_process_started_ahead_logs_as_the_sink_does_and_in_process_when_gone(
        saved_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`evalkit run` imports MLflow in a second process while it runs (cli/mlflow_ahead.py): the run
    it logs is the in-process sink's; a failure is the same one line; a child that died is not a
    failure, the run is logged in-process."""
    from mlflow.tracking import MlflowClient

    from evalkit.cli.mlflow_ahead import MlflowAhead
    from evalkit.runner.pipeline import finish_folder
    from evalkit.runner.store import read_run
    from evalkit.sinks.base import SinkFailed

    run = finish_folder(read_run(saved_run), complete=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/unused.db")  # restored after the test
    for name in ("ahead", "gone"):
        uri = f"sqlite:///{tmp_path}/{name}.db"
        sink = MlflowAhead(uri, "failed").start()
        assert sink.process is not None
        if name == "gone":
            sink.process.kill()
            sink.process.wait()
        line = sink.publish(run)
        assert line.startswith("mlflow: run ") and sink.process is None, line
        client = MlflowClient(tracking_uri=uri)
        runs = client.search_runs([client.get_experiment_by_name("evalkit-tiny").experiment_id])
        assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}
        parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
        assert parent.data.tags["evalkit.run_id"] == run.run_id and parent.data.tags["evalkit.gates"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = MlflowAhead(f"http://127.0.0.1:{closed}", "failed").start()
    with pytest.raises(SinkFailed, match="log it later with: evalkit report"):
        down.publish(run)
