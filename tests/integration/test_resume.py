"""Runs that never lose or repeat work: kill -9 then --resume makes exactly the missing calls and
ends where an uninterrupted run ends; torn lines, changed configs and --retry-errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import evalkit
from tests.fake_openai import FakeOpenAI
from tests.integration.test_cli_faults import wait_for_samples

SUITE = """name: faults
cases:
{cases}candidates:
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: null, concurrency: 4,
      max_retries: 0, temperature: {temperature}}}
metrics: [token_f1]
max_error_rate: 1.0
concurrency: 4
"""


def write_suite(folder: Path, url: str, n_cases: int = 200, temperature: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cases = "".join(f"  - {{id: q{i}, question: 'Question {i}?', expected_answer: "
                    f"'{'I answer from memory.' if i % 3 else 'Something else entirely.'}'}}\n" for i in range(n_cases))
    path = folder / "suite.yaml"
    path.write_text(SUITE.format(cases=cases, url=url, temperature=temperature))
    return path


def only_run(folder: Path) -> Path:
    (run,) = (folder / "reports" / "faults").iterdir()
    return run


def token_f1(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    metric = summary["candidates"][0]["metrics"]["token_f1"]
    return {key: metric[key] for key in ("value", "ci_low", "ci_high", "n", "n_errors", "n_skipped")}


def test_kill_9_then_resume_makes_exactly_the_missing_calls(tmp_path: Path) -> None:
    with FakeOpenAI(latency_s=0.05) as server:
        suite = write_suite(tmp_path / "killed", server.base_url)
        env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "killed" / "cache")}
        process = subprocess.Popen([sys.executable, "-m", "evalkit", "run", str(suite), "--no-mlflow", "--no-cache"],
                                   cwd=tmp_path / "killed", env=env, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        wait_for_samples(tmp_path / "killed", 100, process)
        process.kill()
        process.communicate(timeout=30)
        run = only_run(tmp_path / "killed")
        stored = (run / "samples.jsonl").read_text()
        kept = stored.count("\n")
        assert 100 <= kept < 200 and not (run / "summary.json").exists()
        before = len(server.requests)
        resumed = evalkit("run", str(suite), "--resume", "--no-mlflow", "--no-cache", cwd=tmp_path / "killed")
        assert resumed.returncode == 0, resumed.stderr
        assert len(server.requests) - before == 200 - kept  # exactly the missing samples, nothing twice
        assert f"resuming reports/faults/{run.name}: {kept} samples kept, {200 - kept} to run" in resumed.stderr
        assert (run / "samples.jsonl").read_text().startswith(stored)  # appended to, never rewritten
        uninterrupted = evalkit("run", str(write_suite(tmp_path / "whole", server.base_url)),
                                "--no-mlflow", "--no-cache", cwd=tmp_path / "whole")
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert only_run(tmp_path / "killed") == run  # the same run folder, now complete
    assert json.loads((run / "summary.json").read_text())["status"] == "complete"
    assert token_f1(run) == token_f1(only_run(tmp_path / "whole")) and token_f1(run)["n"] == 200


def test_a_torn_last_line_is_dropped_and_its_sample_run_again(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        suite = write_suite(tmp_path, server.base_url, n_cases=6)
        first = evalkit("run", str(suite), "--no-mlflow", "--no-cache", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        run = only_run(tmp_path)
        lines = (run / "samples.jsonl").read_text().splitlines(keepends=True)
        (run / "samples.jsonl").write_text("".join(lines[:3]) + lines[3][:40])  # killed mid-write
        (run / "summary.json").unlink()
        before = len(server.requests)
        resumed = evalkit("run", str(suite), "--resume", str(run), "--no-mlflow", "--no-cache", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert len(server.requests) - before == 3
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["case_id"] for r in rows) == [f"q{i}" for i in range(6)]


def test_resume_refuses_a_changed_config_and_says_what_changed(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        suite = write_suite(tmp_path, server.base_url, n_cases=4)
        evalkit("run", str(suite), "--no-mlflow", cwd=tmp_path)
        (only_run(tmp_path) / "summary.json").unlink()  # as if killed
        write_suite(tmp_path, server.base_url, n_cases=4, temperature=0.7)
        result = evalkit("run", str(suite), "--resume", "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot resume reports/faults/{only_run(tmp_path).name}: candidate 'closed' changed its config "
        "since (hint: run without --resume to start a new run)")


def test_resume_without_an_incomplete_run_is_one_line(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        suite = write_suite(tmp_path, server.base_url, n_cases=2)
        result = evalkit("run", str(suite), "--resume", "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: no incomplete run of suite 'faults' to resume in reports/faults (hint: run without --resume)")


@pytest.mark.parametrize("cached", [True, False])
def test_retry_errors_runs_only_the_samples_that_errored(tmp_path: Path, cached: bool) -> None:
    cache = [] if cached else ["--no-cache"]
    with FakeOpenAI() as server:
        suite = write_suite(tmp_path, server.base_url, n_cases=8)
        server.faults = ["500", "garbage", "500"]
        first = evalkit("run", str(suite), "--no-mlflow", "--concurrency", "1", *cache, cwd=tmp_path)
        assert first.returncode == 0 and "3 of 8 samples errored" in first.stdout, first.stdout
        before = len(server.requests)
        retried = evalkit("run", str(suite), "--resume", "--retry-errors", "--no-mlflow", *cache, cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert len(server.requests) - before == 3  # a failed response is never cached, so it is asked again
    run = only_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_errored_samples"] == 0 and summary["n_samples"] == 8 and summary["status"] == "complete"
    assert len((run / "samples.jsonl").read_text().splitlines()) == 11  # appended; the last sample of a case wins
    usage = json.loads((run / "usage.json").read_text())["candidate:closed"]
    assert usage["calls"] == 11 and usage["failures"] == 3  # both sessions: 8 calls (3 failed), then 3
