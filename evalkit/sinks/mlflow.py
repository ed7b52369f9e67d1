"""Log a run to MLflow: one parent run per `evalkit run`, one nested run per candidate.

The tracking URI is, in order: the --tracking-uri flag, MLFLOW_TRACKING_URI, or the local sqlite
store `mlflow.db` in the working directory. MLflow's own telemetry is switched off.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.core.offline import import_mlflow
from evalkit.sinks.base import sink_kinds

if TYPE_CHECKING:
    from collections.abc import Callable

    from evalkit.core.records import Output, Sample
    from evalkit.core.run import CandidateSummary, Run
    from evalkit.sinks.traces import TraceChoice, Traced

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def metric_key(name: str) -> str:
    """MLflow keys allow letters, digits, _ - . space and /: 'recall@10' -> 'recall_at_10'."""
    return _UNSAFE.sub("_", name.replace("@", "_at_"))


def resolve_uri(tracking_uri: str | None) -> str:
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _candidate_metrics(summary: CandidateSummary) -> dict[str, float]:
    values: dict[str, float] = {"n_failed": float(summary.n_failed)}
    for key, value in (summary.usage or {}).items():
        if isinstance(value, int | float):
            values[f"usage/{key}"] = float(value)
    for name, agg in summary.metrics.items():
        key = metric_key(name)
        values[f"{key}/n"] = float(agg.n)
        values[f"{key}/n_errors"] = float(agg.n_errors)
        if agg.value is not None:
            values[key] = agg.value
            values[f"{key}/ci_low"] = float(agg.ci_low or 0.0)
            values[f"{key}/ci_high"] = float(agg.ci_high or 0.0)
        if agg.ppi is not None:
            values.update({f"{key}/ppi": agg.ppi.value, f"{key}/ppi_ci_low": agg.ppi.ci_low,
                           f"{key}/ppi_ci_high": agg.ppi.ci_high, f"{key}/n_labeled": float(agg.ppi.n_labeled)})
    return values


def _params(params: dict[str, Any]) -> dict[str, str]:
    return {metric_key(k)[:250]: str(v)[:6000] for k, v in params.items()}


def log_run(run: Run, tracking_uri: str | None = None, traces: TraceChoice = "failed",
            with_texts: Callable[[Sample], Output] | None = None) -> tuple[str, Traced]:
    """Log the run; return the parent MLflow run id and what was traced. Artifacts come from the run
    folder; traces (evalkit.sinks.traces) go under each candidate's run."""
    import pandas as pd

    from evalkit.sinks.traces import Traced, log_traces

    assert run.summary is not None
    mlflow = import_mlflow()
    mlflow.set_tracking_uri(resolve_uri(tracking_uri))
    manifest = run.manifest
    suite = manifest.suite
    experiment = mlflow.set_experiment(f"evalkit-{suite.name}")
    tags = {"evalkit.suite": suite.name, "evalkit.suite_hash": suite.hash,
            "evalkit.version": manifest.evalkit_version, "evalkit.run_id": manifest.run_id}
    if manifest.git_commit:
        tags["evalkit.git_commit"] = manifest.git_commit
    # a run logged before (a resumed run, a report logged again) is logged into the same MLflow runs
    logged = mlflow.tracking.MlflowClient().search_runs(
        [experiment.experiment_id], filter_string=f"tags.`evalkit.run_id` = '{manifest.run_id}'")
    parent_id = next((r.info.run_id for r in logged if "mlflow.parentRunId" not in r.data.tags), None)
    child_ids = {r.info.run_name: r.info.run_id for r in logged if r.data.tags.get("mlflow.parentRunId") == parent_id}
    failed = [g for g in run.summary.gates if not g.passed]
    status = f"{run.summary.status}, {len(failed)} of {len(run.summary.gates)} gates failed" if failed else \
        run.summary.status
    with mlflow.start_run(run_id=parent_id, run_name=None if parent_id else manifest.run_id,
                          tags={**tags, "evalkit.status": status, "evalkit.gates": _gates_tag(run.summary.gates),
                                "mlflow.note.content": _description(run)}) as parent, \
            _killed_on_interrupt(mlflow):
        mlflow.log_params({"suite": suite.name, "n_cases": manifest.n_cases,
                           "metrics": ",".join(run.metrics), "candidates": ",".join(run.candidates)})
        for file in ("header.json", "summary.json", "samples.jsonl", "report.html"):
            if (run.folder / file).is_file():
                mlflow.log_artifact(str(run.folder / file))
        mlflow.log_metric("gates_failed", float(sum(not g.passed for g in run.summary.gates)))
        if run.summary.verdict:
            mlflow.log_text("\n".join(f"- {line}" for line in run.summary.verdict) + "\n", "verdict.md")
        by_name = {c.name: c for c in manifest.candidates}
        traced = Traced()
        judged = {f"evalkit.judge.{metric_key(spec.name)}": manifest.judge_label(spec) or ""
                  for spec in manifest.metrics if spec.judge}
        for summary in run.summary.candidates:
            candidate = by_name[summary.name]
            child = child_ids.get(summary.name)
            gates = [g for g in run.summary.gates if g.candidate == summary.name]
            with mlflow.start_run(run_id=child, run_name=None if child else summary.name, nested=True,
                                  tags={**tags, **judged, "evalkit.candidate": summary.name,
                                        "evalkit.kind": candidate.kind, "evalkit.gates": _gates_tag(gates),
                                        "mlflow.note.content": _description(run, summary.name),
                                        **({"evalkit.skipped": summary.skipped} if summary.skipped else {})}), \
                    _killed_on_interrupt(mlflow):
                mlflow.log_params(_params(candidate.params))
                mlflow.log_metrics(_candidate_metrics(summary))
                mlflow.log_table(pd.DataFrame(_table_rows(run, summary.name)), artifact_file="samples.json")
                if child is None:  # a run logged again (report --mlflow) keeps the traces it has
                    mine = log_traces(mlflow, run, summary.name, mlflow.active_run().info.run_id, traces, with_texts)
                    if mine.kept:
                        mlflow.set_tag("evalkit.traces_kept", f"{mine.kept} traces unchanged since an earlier run "
                                                               "of this experiment were not logged again")
                    traced = traced + mine
        return str(parent.info.run_id), traced


def _gates_tag(gates: list[Any]) -> str:
    """One tag a reviewer can sort and filter the runs by: "passed", "failed: <metric> (<candidate>), ..."."""
    if not gates:
        return "none"
    failed = [f"{g.metric} ({g.candidate})" for g in gates if not g.passed]
    return f"failed: {', '.join(failed)}"[:500] if failed else "passed"


def _description(run: Run, candidate: str | None = None) -> str:
    """The MLflow run's description (Markdown): its gate outcomes and the verdict, where a reviewer
    looks first."""
    assert run.summary is not None
    gates = [g for g in run.summary.gates if candidate is None or g.candidate == candidate]
    gates.sort(key=lambda g: g.passed)  # failures first: the UI shows the first lines and folds the rest
    lines = [f"**{'PASS' if g.passed else 'FAIL'}** {g.candidate}: {g.message}" for g in gates]
    head = f"evalkit run {run.run_id} of suite {run.manifest.suite.name}" + (f", candidate {candidate}" if candidate
                                                                            else "")
    verdict = [f"- {line}" for line in run.summary.verdict] if candidate is None else []
    return "\n\n".join(part for part in (head, "\n".join(f"- {line}" for line in lines) or "no gates",
                                         "\n".join(verdict)) if part)


@contextlib.contextmanager
def _killed_on_interrupt(mlflow: Any) -> Iterator[None]:
    """Ctrl-C or SIGTERM while logging ends the MLflow runs as KILLED (MLflow's own context says FAILED)."""
    try:
        yield
    except KeyboardInterrupt:
        while mlflow.active_run() is not None:
            mlflow.end_run("KILLED")
        raise


def _table_rows(run: Run, candidate: str) -> list[dict[str, Any]]:
    rows = []
    for sample in run.samples:
        if sample.candidate != candidate:
            continue
        row: dict[str, Any] = {
            "case_id": sample.case_id, "question": sample.question,
            "expected_sources": " ".join(sample.expected_sources),
            "retrieved_ids": " ".join(sample.output.retrieved_ids[:10]),
            "answer": sample.output.answer, "error": sample.output.error or "",
        }
        for name, score in sample.scores.items():
            row[metric_key(name)] = score.value
        rows.append(row)
    return rows


@sink_kinds.register("mlflow")
@dataclass
class MlflowSink:
    tracking_uri: str | None = None
    traces: TraceChoice = "failed"
    with_texts: Callable[[Sample], Output] | None = None  # passage texts for the traces' retriever spans
    name = "mlflow"

    def publish(self, run: Run) -> str:
        from evalkit.core.errors import short_error
        from evalkit.sinks.base import SinkFailed

        uri = resolve_uri(self.tracking_uri)
        later = f"log it later with: evalkit report {run.folder} --mlflow --tracking-uri {uri}"
        try:
            reachable(uri)
            with store_lock(uri):
                run_id, traced = log_run(run, self.tracking_uri, self.traces, self.with_texts)
        except SinkFailed as exc:
            raise SinkFailed(f"{exc}; {later}") from None
        except Exception as exc:
            raise SinkFailed(f"{short_error(exc)}; {later}") from None
        said = f", {traced.logged} traces" if traced.logged else ""
        if traced.kept:
            said += f", {traced.kept} unchanged traces already logged by an earlier run"
        if traced.left_out:
            said += f" ({traced.left_out} more failing samples not traced: --mlflow-traces all)"
        return f"mlflow: run {run_id}{said} ({default_store_note(self.tracking_uri)})"


PROBE = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=evalkit-reachability-probe"


def reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Raise SinkFailed at once when an MLflow server cannot take a run: MLflow's own client retries
    for minutes before it gives up. The probe asks its tracking API, not /health: a server whose
    database is down answers /health with 200 and every API call with 503."""
    import urllib.error
    import urllib.request

    from evalkit.sinks.base import SinkFailed

    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}{PROBE}", timeout=timeout_s):
            pass
    except urllib.error.HTTPError as exc:
        said = exc.read(300).decode("utf-8", "replace")
        if exc.code == 404 and "RESOURCE_DOES_NOT_EXIST" in said:
            return  # the API answered: there is no such experiment, as expected
        if exc.code >= 500 or exc.code in (401, 403):
            first = " ".join(said.split())[:120] or exc.reason
            raise SinkFailed(f"MLflow at {uri} answers its API with HTTP {exc.code} ({first})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SinkFailed(f"MLflow at {uri} is unreachable ({reason})") from None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """One evalkit at a time on a local sqlite store: MLflow creates and migrates a new store on
    first use, and runs that start together race on it ("duplicate column name")."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    path = Path(uri.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if not path.is_file():
                create_store(path)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def create_store(path: Path) -> None:
    """A new sqlite store, whole or not at all. MLflow creates a store's tables and runs its
    migrations on first use; a Ctrl-C in those seconds left a store that no later run could open
    ("table ... already exists"). So the store is made in a temporary file, with MLflow's own
    defaults, and moved into place when it is complete; an interrupted creation leaves nothing."""
    import os

    from evalkit.core.offline import import_mlflow

    import_mlflow()  # its settings before its modules
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    partial = path.with_name(f".{path.name}.{os.getpid()}.creating")
    try:
        store = SqlAlchemyStore(f"sqlite:///{partial}", "./mlruns")  # MLflow's default artifact root
        store.engine.dispose()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def default_store_note(tracking_uri: str | None) -> str:
    uri = resolve_uri(tracking_uri)
    if uri.startswith("sqlite:///"):
        return f"mlflow ui --backend-store-uri {uri}"
    return f"MLflow at {uri}"


def log_calibration(result: dict[str, Any], tracking_uri: str | None = None) -> str:
    """Log a judge calibration as a run in the `evalkit-calibration` experiment."""
    mlflow = import_mlflow()
    mlflow.set_tracking_uri(resolve_uri(tracking_uri))
    mlflow.set_experiment("evalkit-calibration")
    with mlflow.start_run(run_name=f"{result['judge']} on {result['data']}",
                          tags={"evalkit.judge": result["judge"], "evalkit.data": result["data"]}) as run:
        mlflow.log_params({"n": result["n"], "n_supported": result["n_supported"]})
        for key, figure in result["configured"].items():
            if isinstance(figure, dict):
                mlflow.log_metrics({key: figure["value"], f"{key}/ci_low": figure["ci_low"],
                                    f"{key}/ci_high": figure["ci_high"]})
        mlflow.log_metric("best_threshold/macro_f1", result["best_threshold"]["macro_f1"])
        mlflow.log_dict(result, "calibration.json")
        return str(run.info.run_id)
