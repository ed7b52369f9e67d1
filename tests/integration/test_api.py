"""The Python API (evalkit.run, read_run, compare, publish): what a notebook user and the pytest
plugin get is what the CLI gets."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import evalkit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "suites" / "examples" / "quickstart", tmp_path / "quickstart")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "quickstart" / "suite.yaml"


def test_import_is_cheap_and_the_api_documents_itself() -> None:
    code = "import sys, evalkit; help(evalkit.run); print(sorted(m for m in ('pandas', 'mlflow', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Run a suite" in result.stdout and result.stdout.rstrip().endswith("[]")


def test_a_run_from_python_gives_the_cli_s_folder_and_a_dataframe(quickstart: Path) -> None:
    result = evalkit.run(quickstart, mlflow=False)
    assert result.passed and result.exit_code == 0 and (result.folder / "report.html").is_file()
    table = result.metrics().set_index("metric")
    assert table.loc["recall@1", "value"] == 1.0 and table.loc["recall@1", "n_skipped"] == 1
    samples = result.samples
    assert list(samples["case_id"]) == ["refund-window", "express", "password", "crypto"]
    assert samples["skipped.recall@1"].iloc[3] == "case has no expected_sources"
    saved = evalkit.read_run(result.folder)
    assert saved.summary.candidates == result.summary.candidates and saved.gates == result.gates


def test_run_works_inside_a_running_event_loop(quickstart: Path) -> None:
    async def notebook_cell() -> evalkit.Result:
        return evalkit.run(quickstart, mlflow=False, html=False)

    assert asyncio.run(notebook_cell()).passed


def test_compare_two_results(quickstart: Path) -> None:
    first = evalkit.run(quickstart, mlflow=False, html=False)
    second = evalkit.run(quickstart, mlflow=False, html=False)
    comparison = evalkit.compare(first, str(second.folder))
    recall = next(c for c in comparison.changes if c.metric == "recall@1")
    assert recall.result is not None and recall.result.diff == 0 and recall.result.n == 3


def test_a_bad_suite_raises_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "suite.yaml"
    broken.write_text("name: x\ncases: []\ncandidates: [{name: a, kind: rag}]\nmetrics: [mrr]\n")
    with pytest.raises(evalkit.EvalkitError) as raised:
        evalkit.load_suite(broken)
    assert "suite.yaml" in str(raised.value)


def test_the_pytest_plugin_s_report_is_the_cli_s(quickstart: Path) -> None:
    """The plugin runs through evalkit.run: `evalkit report` on its run folder writes the same page."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(quickstart)],
                            cwd=quickstart.parent.parent, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (quickstart.parent.parent / "reports" / "quickstart").iterdir()
    by_plugin = (folder / "report.html").read_bytes()
    again = subprocess.run([sys.executable, "-m", "evalkit", "report", str(folder)], cwd=quickstart.parent.parent,
                           capture_output=True, text=True, env=env, check=False)
    assert again.returncode == 0, again.stderr
    assert (folder / "report.html").read_bytes() == by_plugin
