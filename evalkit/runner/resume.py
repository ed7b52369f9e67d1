"""Resuming a run: which folder, whether it may be resumed, and what is left to do.

A resumed run keeps its folder and run id. Samples already stored are kept when the work that made
them is unchanged (same case, same candidate config, same metrics and judge); only the missing
case x candidate pairs run, and `--retry-errors` re-runs the ones that errored too. A change that
would mix two configurations in one run is refused, with what changed.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Sample
from evalkit.core.run import SCHEMA, SCHEMA_V2, Run, RunManifest
from evalkit.runner.plan import WorkItem
from evalkit.runner.store import HEADER, SUMMARY, read_run


def find_run(reports_dir: Path, suite: str, *, incomplete_only: bool) -> Path:
    """The newest run folder of a suite (the newest incomplete one when `incomplete_only`)."""
    folder = reports_dir / suite
    runs = sorted((p for p in folder.glob("*/") if (p / HEADER).is_file()), key=lambda p: p.name, reverse=True)
    for run in runs:
        summary = run / SUMMARY
        status = json.loads(summary.read_text(encoding="utf-8")).get("status") if summary.is_file() else None
        if not incomplete_only or status != "complete":
            return run
    what = "incomplete run" if incomplete_only else "run"
    raise EvalkitError(f"no {what} of suite '{suite}' to resume in {folder}", hint="run without --resume")


def load_resumable(folder: Path, manifest: RunManifest) -> Run:
    """The run in `folder`, if the planned `manifest` may continue it; else a one-line error saying why."""
    previous = read_run(folder, passages=False)  # the run writes them anew when it ends
    old = previous.manifest

    def refuse(what: str) -> EvalkitError:
        return EvalkitError(f"cannot resume {folder}: {what}", hint="run without --resume to start a new run")

    if old.run_schema not in (SCHEMA, SCHEMA_V2):
        raise refuse(f"it was written by an older evalkit ({old.run_schema})")
    if old.suite.name != manifest.suite.name:
        raise refuse(f"it is a run of suite '{old.suite.name}', not '{manifest.suite.name}'")
    before = {c.name: c.config_hash for c in old.candidates}
    now = {c.name: c.config_hash for c in manifest.candidates}
    for name in now:
        if name in before and before[name] != now[name]:
            raise refuse(f"candidate '{name}' changed its config since")
    if set(before) != set(now):
        added, gone = sorted(set(now) - set(before)), sorted(set(before) - set(now))
        raise refuse("its candidates changed since (" + "; ".join(
            part for part in (f"added {', '.join(added)}" if added else "", f"removed {', '.join(gone)}" if gone
                              else "") if part) + ")")
    if [m.model_dump() for m in old.metrics] != [m.model_dump() for m in manifest.metrics]:
        raise refuse(f"its metrics changed since ({', '.join(m.name for m in old.metrics)} -> "
                     f"{', '.join(m.name for m in manifest.metrics)})")
    if (old.judge and old.judge.spec) != (manifest.judge and manifest.judge.spec):
        raise refuse("its judge changed since")
    if old.n_cases != manifest.n_cases:
        raise refuse(f"its cases changed since ({old.n_cases} cases then, {manifest.n_cases} now)")
    return previous


def remaining(previous: Run, items: list[WorkItem], retry_errors: bool) -> tuple[list[Sample], list[WorkItem]]:
    """(samples to keep, work items to run): stored samples of planned work stay, unless they errored
    and `retry_errors`; a stored sample whose case changed since is not kept (its key differs)."""
    planned = {item.key for item in items}
    if any(sample.key not in planned for sample in previous.samples):
        changed = sum(sample.key not in planned for sample in previous.samples)
        raise EvalkitError(f"cannot resume {previous.folder}: {changed} stored samples are of cases that changed since",
                           hint="run without --resume to start a new run")
    kept = [s for s in previous.samples if not (retry_errors and s.errored)]
    done = {s.key for s in kept}
    return kept, [item for item in items if item.key not in done]
