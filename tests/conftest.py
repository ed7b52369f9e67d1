"""Shared fixtures: a small slice of the real SciFact data, written as a suite in a temp folder."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# suite files that are test data (a 0.1 run's suite, hostile suites), not suites for evalkit's plugin to run
collect_ignore_glob = ["data", "faults/*.yaml"]
# tests/<folder> -> its marker. The real components (tests/local: the local model; tests/browser: an
# MLflow server and Chromium; tests/ray: a Ray cluster) run only when -m names them (their nox sessions
# pass -m <component>), whatever else -m says; tests/integration: subprocesses and whole runs
COMPONENTS = ("local", "browser", "ray")
MARKED_FOLDERS = (*COMPONENTS, "integration")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = config.getoption("markexpr") or ""
    kept, left_out = [], []
    for item in items:
        parts = item.path.relative_to(ROOT / "tests").parts if item.path.is_relative_to(ROOT / "tests") else ()
        if parts and parts[0] in MARKED_FOLDERS:
            item.add_marker(parts[0])
        (left_out if parts and parts[0] in COMPONENTS and parts[0] not in asked else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


SCIFACT = ROOT / "suites" / "data" / "scifact"
V1 = ROOT / "tests" / "data" / "run-v1"  # a run folder written by evalkit 0.1

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _read_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlflow.set_tracking_uri()` in a test also sets MLFLOW_TRACKING_URI in os.environ, which every
    later CLI subprocess would inherit; monkeypatch puts the environment back after each test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # recorded as it was (unset, usually), then cleared
    monkeypatch.delenv("MLFLOW_TRACKING_URI")


@pytest.fixture(scope="session")
def scifact_slice() -> tuple[list[dict], list[dict]]:
    """12 claims with their gold abstracts plus 60 other abstracts as distractors."""
    cases = _read_gz(SCIFACT / "cases.jsonl.gz")
    corpus = _read_gz(SCIFACT / "corpus.jsonl.gz")
    chosen = [c for c in cases if "SUPPORT" in c["tags"]][:12]
    gold = {doc for c in chosen for doc in c["expected_sources"]}
    documents = [d for d in corpus if d["id"] in gold] + [d for d in corpus if d["id"] not in gold][:60]
    return chosen, documents


@pytest.fixture
def v1_run(tmp_path: Path) -> Path:
    """A copy of the 0.1 run folder, where `evalkit report` would find it (reports/<suite>/<run id>)."""
    import shutil

    folder = tmp_path / "reports" / "tiny" / "20261125-090020-97ed"
    folder.mkdir(parents=True)
    for name in ("header.json", "samples.jsonl", "summary.json", "usage.json"):
        shutil.copy(V1 / name, folder / name)
    return folder


def evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, with its cache under cwd, wide output and no MLflow server
    named by the environment."""
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "250"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


class Finished:
    """A finished run as the tests read it: samples and manifest in their stored JSON form."""

    def __init__(self, run) -> None:
        self.run, self.folder, self.summary = run, run.folder, run.summary
        self.samples = [json.loads(sample.to_json()) for sample in run.samples]
        self.header = run.manifest.model_dump(mode="json", by_alias=True)
        self.summaries, self.verdicts, self.exit_code = run.summary.candidates, run.summary.gates, run.summary.exit_code


def run_suite_file(path: Path, tmp_path: Path, **options) -> Finished:
    """Load and run a suite in-process with reports and caches under tmp_path."""
    import asyncio

    from evalkit.config.suite import load_suite
    from evalkit.runner.pipeline import RunOptions, run_suite

    settings = RunOptions(**{"reports_dir": tmp_path / "reports", "cache_dir": tmp_path / "cache", **options})
    return Finished(asyncio.run(run_suite(load_suite(path), settings)))


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A planted API key in EVALKIT_TEST_KEY: tests search every output for it."""
    monkeypatch.setenv("EVALKIT_TEST_KEY", "sk-test-PLANTED-4f9a")
    return "sk-test-PLANTED-4f9a"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def mini_suite(tmp_path: Path, scifact_slice: tuple[list[dict], list[dict]]) -> Path:
    """A suite over the SciFact slice with bm25 and hybrid candidates and a passing gate."""
    cases, documents = scifact_slice
    write_jsonl(tmp_path / "corpus.jsonl", documents)
    write_jsonl(tmp_path / "cases.jsonl", cases)
    suite = tmp_path / "mini.yaml"
    suite.write_text(
        """name: mini
description: SciFact slice
corpus:
  path: corpus.jsonl
cases:
  path: cases.jsonl
candidates:
  - name: bm25
    kind: rag
    retriever: {kind: bm25, top_k: 5}
  - name: hybrid
    kind: rag
    retriever: {kind: hybrid, top_k: 5}
metrics: [hit_rate@5, recall@5, mrr, ndcg@5, context_recall_ids, faithfulness]
gates:
  - metric: recall@5
    min: 0.5
""",
        encoding="utf-8",
    )
    return suite


def free_port() -> int:
    """A loopback port no one listens on now (for the servers tests start)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# evalkit as a foreground command sees Ctrl-C: a test that sends SIGINT must not depend on how pytest
# was started (a shell's background job, as CI may start it, inherits SIGINT ignored, and so would evalkit)
_FOREGROUND = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "sys.argv[0] = 'evalkit'; runpy.run_module('evalkit', run_name='__main__', alter_sys=True)")


def foreground_cli(*args: str) -> list[str]:
    """The command line of `python -m evalkit ARGS` with SIGINT handled as in a terminal."""
    return [sys.executable, "-c", _FOREGROUND, *args]
