"""Baselines for no-regression gates: find a baseline run, and promote a run to be one.

A baseline reference is, in order: a run folder; a name in `reports/<suite>/baselines.json`
(written by `evalkit baseline promote`); an MLflow run id; or a name carried by an MLflow run's
`evalkit.baseline` tag. MLflow runs are read back from the artifacts evalkit logged with them.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from evalkit.core.cache import write_json_atomic
from evalkit.core.errors import EvalkitError
from evalkit.core.run import BaselineRef, Run
from evalkit.runner.store import read_run

log = logging.getLogger("evalkit")
POINTERS = "baselines.json"
DEFAULT_BASELINE = "production"
_MLFLOW_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def _pointers(reports_dir: Path, suite: str) -> dict[str, str]:
    path = reports_dir / suite / POINTERS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def promote(run_folder: Path, name: str, tracking_uri: str | None = None, use_mlflow: bool = True) -> list[str]:
    """Mark a run as the baseline `name`: a local pointer, and a tag on its MLflow run if logged."""
    run = read_run(run_folder, passages=False)
    suite, run_id = run.manifest.suite.name, run.run_id
    reports_dir = run_folder.resolve().parent.parent
    pointers = _pointers(reports_dir, suite)
    pointers[name] = run_id
    path = reports_dir / suite / POINTERS
    write_json_atomic(path, pointers, indent=2)
    done = [f"{path}: {name} -> {run_id}"]
    if use_mlflow:
        parent = _mlflow_parent(suite, tracking_uri, {"evalkit.run_id": run_id})
        if parent is not None:
            client, mlflow_run = parent
            for other in _mlflow_search(client, suite, {"evalkit.baseline": name}):
                client.delete_tag(other.info.run_id, "evalkit.baseline")  # one run carries a name at a time
            client.set_tag(mlflow_run.info.run_id, "evalkit.baseline", name)
            done.append(f"MLflow run {mlflow_run.info.run_id}: tag evalkit.baseline={name}")
    return done


def resolve(ref: str, suite: str, reports_dir: Path, tracking_uri: str | None = None) -> Run | None:
    """The baseline run for `ref`, or None when there is none."""
    folder = Path(ref)
    if (folder / "header.json").is_file():
        return read_run(folder, passages=False)
    run_id = _pointers(reports_dir, suite).get(ref)
    if run_id and (reports_dir / suite / run_id / "header.json").is_file():
        return read_run(reports_dir / suite / run_id, passages=False)
    query = {"evalkit.baseline": ref} if not _MLFLOW_RUN_ID.match(ref) else None
    found = _mlflow_parent(suite, tracking_uri, query, run_id=None if query else ref)
    if found is None:
        return None
    client, mlflow_run = found
    target = Path(tempfile.mkdtemp(prefix="evalkit-baseline-"))
    for name in ("header.json", "samples.jsonl", "summary.json"):
        try:
            client.download_artifacts(mlflow_run.info.run_id, name, str(target))
        except Exception as exc:  # MlflowException, OSError: the run was logged without its run folder
            raise EvalkitError(f"baseline '{ref}': MLflow run {mlflow_run.info.run_id} has no readable {name} "
                               f"({str(exc).splitlines()[0][:160]})",
                               hint="promote a run that evalkit logged (evalkit baseline promote RUN_FOLDER), "
                                    "or pass --baseline with a run folder") from None
    return read_run(target, passages=False)


def tracking_client(tracking_uri: str | None) -> Any:
    """An MlflowClient for --tracking-uri, $MLFLOW_TRACKING_URI or ./mlflow.db; None when there is no
    store here (an empty one is not created)."""
    import os

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri is None:
        if not Path("mlflow.db").is_file():
            return None  # nothing logged here; do not create an empty store
        uri = "sqlite:///mlflow.db"
    from evalkit.core.offline import import_mlflow

    return import_mlflow().tracking.MlflowClient(tracking_uri=uri)


def _mlflow_search(client: Any, suite: str, tags: dict[str, str]) -> list[Any]:
    """The suite's run-level MLflow runs with these tags, newest first. A run's candidates are its
    child runs and carry the same evalkit.run_id: they are never a baseline."""
    experiment = client.get_experiment_by_name(f"evalkit-{suite}")
    if experiment is None:
        return []
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    found = client.search_runs([experiment.experiment_id], filter_string=query,
                               order_by=["attributes.start_time DESC"], max_results=200)
    return [run for run in found if "mlflow.parentRunId" not in run.data.tags]


def _mlflow_parent(suite: str, tracking_uri: str | None, tags: dict[str, str] | None,
                   run_id: str | None = None) -> tuple[Any, Any] | None:
    client = tracking_client(tracking_uri)
    if client is None:
        return None
    if run_id is not None:
        try:
            return client, client.get_run(run_id)
        except Exception as exc:  # MlflowException: no such run
            raise EvalkitError(f"no MLflow run '{run_id}'", hint=str(exc).splitlines()[0]) from None
    runs = _mlflow_search(client, suite, tags or {})
    return (client, runs[0]) if runs else None


class Resolver:
    """Resolves gates' baseline references (each once): a reference, or the default, else
    "production" -> (its name, the run). Remembers the first run found: the run's baseline."""

    def __init__(self, suite: str, reports_dir: Path, default: str | None, tracking_uri: str | None) -> None:
        self.suite, self.reports_dir, self.default, self.tracking_uri = suite, reports_dir, default, tracking_uri
        self.found: dict[str, Run | None] = {}

    def __call__(self, ref: str | None) -> tuple[str, Run | None]:
        name = ref or self.default or DEFAULT_BASELINE
        if ref and self.default and ref != self.default and ref not in self.found:  # said once per baseline
            log.warning("a gate names baseline '%s', which it keeps; --baseline %s applies to the gates that "
                        "name none", ref, self.default)
        if name not in self.found:
            self.found[name] = resolve(name, self.suite, self.reports_dir, self.tracking_uri)
        return name, self.found[name]

    def used(self) -> BaselineRef | None:
        """The baseline the gates compared with; without such gates, an explicit --baseline when it exists."""
        if not self.found and self.default is not None:
            try:
                self(None)
            except EvalkitError:  # an unknown MLflow run id: no gate needed it, the report goes without
                return None
        return next((BaselineRef(name=name, run_id=run.run_id) for name, run in self.found.items()
                     if run is not None), None)


def load(ref: BaselineRef, suite: str, reports_dir: Path, tracking_uri: str | None) -> Run | None:
    """The run a summary names as its baseline, or None when it is gone (or the name now points elsewhere)."""
    folder = reports_dir / suite / ref.run_id
    if (folder / "header.json").is_file():
        return read_run(folder, passages=False)
    try:
        run = resolve(ref.name, suite, reports_dir, tracking_uri)
    except EvalkitError:
        return None
    return run if run is not None and run.run_id == ref.run_id else None
