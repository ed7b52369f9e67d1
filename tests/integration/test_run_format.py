"""The run folder format: evalkit.run/2 round-trips, and folders written by evalkit 0.1 (evalkit.run/1)
still read, re-render and compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.core.run import SCHEMA_V1
from evalkit.runner.store import read_run
from tests.conftest import V1, evalkit, run_suite_file


def test_a_v1_folder_reads_into_the_typed_records(v1_run: Path) -> None:
    run = read_run(v1_run)
    assert run.manifest.run_schema == SCHEMA_V1 and run.run_id == "20261125-090020-97ed"
    assert run.metrics == ["recall@1", "mrr", "token_f1", "faithfulness", "latency_p50", "latency_p95", "cost"]
    assert run.manifest.metric("faithfulness").judge == "offline-v2"
    assert run.manifest.judge is not None and run.manifest.judge.kind == "offline"
    assert len(run.samples) == 6 and run.samples[0].output.passages[0].node_id
    assert run.summary is None  # a v1 summary is recomputed, not trusted


def test_report_on_a_v1_folder_gives_the_same_numbers(v1_run: Path) -> None:
    old = json.loads((V1 / "summary.json").read_text())
    result = evalkit("report", str(v1_run), cwd=v1_run.parents[2])
    assert result.returncode == 0, result.stderr
    assert "PASS bm25: recall@1 mean = 1.0000" in result.stdout and "Traceback" not in result.stderr
    new = json.loads((v1_run / "summary.json").read_text())
    assert new["schema"] == "evalkit.run/3" and (v1_run / "report.html").is_file()
    for before, after in zip(old["candidates"], new["candidates"], strict=True):
        for name, aggregate in before["metrics"].items():
            now = after["metrics"][name]
            assert (now["value"], now["ci_low"], now["ci_high"], now["n"], now["n_errors"]) == (
                aggregate["mean"], aggregate["ci_low"], aggregate["ci_high"], aggregate["n"], aggregate["n_errors"])
        assert after["metrics"]["latency_p50"]["value"] == pytest.approx(before["latency_p50_s"], abs=1e-12)


def test_compare_a_v1_run_with_a_v2_run_of_the_same_suite(v1_run: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    shutil.copytree(V1 / "suite", suite)
    with (suite / "suite.yaml").open("a") as handle:  # the v1 run's judge, no longer the default
        handle.write("judge: {kind: offline, features: lexical}\n")
    new = run_suite_file(suite / "suite.yaml", tmp_path)
    result = evalkit("compare", str(v1_run), str(new.folder), "--all", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 cases got worse" in result.stdout
    for line in result.stdout.splitlines():
        if line.startswith("│") and "recall@1" in line:
            assert "+0.000 [+0.000, +0.000]" in line, line  # same answers, same scores
        if line.startswith("│ product") and "faithfulness" in line:
            assert "+0.000 [+0.000, +0.000]" in line, line
        if line.startswith("│ bm25") and "faithfulness" in line:  # an extractive answer is not judged (metric v3)
            assert "no shared cases" in line, line
        if line.startswith("│ product") and "token_f1" in line:
            assert "+0.000 [+0.000, +0.000]" in line, line
        if line.startswith("│ bm25") and "token_f1" in line:  # token_f1 v2 no longer counts the [doc] marks
            assert "+0.045" in line, line
    changed = evalkit("compare", str(v1_run), str(new.folder), cwd=tmp_path).stdout  # by default, what changed
    rows = [line for line in changed.splitlines() if line.startswith("│ ")]
    assert rows and all("+0.000 [+0.000, +0.000]" not in line for line in rows), changed
    assert "the same on every shared case are left out (--all shows them)" in changed
    assert "cases got worse on recall@1" in changed  # ranked by the gated metric
    assert (new.folder / "compare-20261125-090020-97ed.html").is_file()


def test_v3_samples_manifest_and_passages_round_trip(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    shutil.copytree(V1 / "suite", suite)
    finished = run_suite_file(suite / "suite.yaml", tmp_path)
    saved = read_run(finished.folder)
    assert saved.manifest == finished.run.manifest and saved.samples == finished.run.samples
    assert saved.summary == finished.summary
    header = json.loads((finished.folder / "header.json").read_text())
    assert header["schema"] == "evalkit.run/3"
    named = {p.node_id for s in saved.samples for p in s.output.passages if p.node_id}
    assert named and saved.passages is not None and set(saved.passages) == named  # each text once
    assert all(saved.passages.values()) and saved.passages == finished.run.passages
    assert {c["name"]: len(c["config_hash"]) for c in header["candidates"]} == {"bm25": 16, "product": 16}
    keys = {(s.candidate, s.case_id): s.key for s in saved.samples}
    assert len(set(keys.values())) == 6  # one content key per case x candidate
