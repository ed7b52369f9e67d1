"""Plan a run: the suite becomes a manifest (what will run) and work items (what to do).

Each work item is one case x candidate with a content key computed from the case and the
candidate's resolved config: the same question asked of the same configuration has the same key
in every run, which is what resuming and incremental re-runs match on.
"""

from __future__ import annotations

import datetime as dt
import platform
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from evalkit.config.suite import Suite
from evalkit.core.cache import content_key
from evalkit.core.records import Case
from evalkit.core.run import CandidateInfo, JudgeInfo, RunManifest, SuiteInfo
from evalkit.core.specs import MetricSpec
from evalkit.core.version import __version__
from evalkit.metrics.operational import OPERATIONAL


@dataclass(frozen=True)
class WorkItem:
    candidate: str
    case: Case
    key: str  # content key: the case and the candidate's config
    position: int = 0  # the case's place in the suite


@dataclass(frozen=True)
class Plan:
    manifest: RunManifest
    items: list[WorkItem]  # candidate by candidate, cases in suite order; skipped candidates have none


def git_commit(directory: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                                text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def plan_run(suite: Suite, metrics: list[MetricSpec], judge: JudgeInfo | None, *, max_error_rate: float,
             allow_skipped: bool) -> Plan:
    """The manifest and work items of a run of `suite` with these metric specs and judge."""
    listed = {spec.name for spec in metrics}
    candidates = [CandidateInfo(name=c.name, kind=c.kind, params=c.flat_params(), config_hash=c.config_hash(),
                                skipped=c.missing_credentials(), served_by=c.served_by(), retrieves=c.retrieves())
                  for c in suite.candidates]
    manifest = RunManifest(
        run_id=new_run_id(),
        suite=SuiteInfo(name=suite.name, path=str(suite.path), hash=suite.content_hash,
                        description=suite.spec.description),
        evalkit_version=__version__, git_commit=git_commit(suite.directory),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        environment={"python": sys.version.split()[0], "platform": platform.platform()},
        n_cases=len(suite.cases), candidates=candidates,
        metrics=[*metrics, *(spec for spec in OPERATIONAL if spec.name not in listed)],
        judge=judge, gates=list(suite.spec.gates), max_error_rate=max_error_rate, allow_skipped=allow_skipped,
        labels=suite.spec.labels, verdict_pairs=list(suite.spec.verdict.pairs),
        abstention=suite.spec.abstention.model_dump(mode="json"), as_of=suite.as_of.isoformat(),
    )
    items = [WorkItem(info.name, case, content_key("work", case.key_fields(), info.config_hash), position)
             for info in candidates if not info.skipped for position, case in enumerate(suite.cases)]
    return Plan(manifest, items)
