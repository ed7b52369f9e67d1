"""Metrics measured in whole runs: a recorded-output suite that exercises every citation, abstention
and check metric end to end, checks as gates (kept by rescoring), and the SituatedQA suite's
freshness metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.conftest import ROOT, run_suite_file
from tests.unit.metrics.test_decision_metrics import CHECKED, OUTPUTS, SCHEMA, SUITE


def test_a_recorded_suite_measures_every_new_metric(tmp_path: Path) -> None:
    (tmp_path / "outputs.jsonl").write_text("".join(json.dumps(o) + "\n" for o in OUTPUTS))
    (tmp_path / "suite.yaml").write_text(SUITE)
    finished = run_suite_file(tmp_path / "suite.yaml", tmp_path)
    metrics = finished.summary.candidate("product").metrics
    got = {name: (m.value, m.n, m.n_skipped) for name, m in metrics.items() if not name.startswith(("latency", "cost"))}
    assert got == {
        "citation_precision": (1.0, 1, 3),  # q1 cites d1 (expected); q2 cites nothing; q3, q4 have no sources
        "citation_recall": (0.5, 2, 2),  # q1 1.0, q2 0.0
        "unsupported_citation_rate": (0.5, 2, 2),  # q1 0, q3 cites d8, never retrieved
        "abstain_rate_unanswerable": (0.5, 2, 2),  # q4 declined, q3 did not
        "false_abstain_rate": (0.5, 2, 2),  # q2 declined an answerable question
        "distractor_rate": (0.5, 2, 2),  # q3 gave "Poseidon"
        # q1 "Rollo [d1]." answers "Rollo" (1.0), q2 declined (0.0); SQuAD 2.0 scores the unanswerable
        # ones too: q3 answered "Poseidon" (0.0), q4 declined (1.0)
        "token_f1": (0.5, 4, 0),
        "citation_support": (0.5, 2, 2),  # q1's passage d1 names Rollo; q3 cites d8, never retrieved
    }
    (verdict,) = finished.verdicts
    assert not verdict.passed and verdict.message == "unsupported_citation_rate mean = 0.5000, needs mean <= 0.2"
    assert finished.header["metrics"][2]["direction"] == "lower"


def test_checks_are_metrics_gates_can_use(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "outputs.jsonl").write_text(
        json.dumps({"id": "q1", "answer": json.dumps({"answer": "30 days", "confidence": 0.8})}) + "\n"
        + json.dumps({"id": "q2", "answer": "Yes, of course we take bitcoin and every other coin you can name."}) + "\n")
    (tmp_path / "suite.yaml").write_text(CHECKED)
    finished = run_suite_file(tmp_path / "suite.yaml", tmp_path)
    metrics = finished.summary.candidate("product").metrics
    assert (metrics["check_json"].value, metrics["check_short"].value) == (0.5, 0.5)
    assert (metrics["check_says_no"].value, metrics["check_says_no"].n, metrics["check_says_no"].n_skipped) == (0.0, 1, 1)
    q2 = next(s for s in finished.samples if s["case_id"] == "q2")["scores"]
    assert q2["check_json"]["details"]["failed"] == ["not JSON (Expecting value at column 1)"]
    assert q2["check_says_no"]["details"]["failed"] == ["does not start with 'No'"]
    (gate,) = finished.verdicts
    assert not gate.passed and gate.message == "check_json mean = 0.5000, needs mean >= 1"


def test_rescoring_keeps_the_checks_and_their_gates(tmp_path: Path) -> None:
    from evalkit.runner.rescore import rescore

    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "outputs.jsonl").write_text(json.dumps({"id": "q1", "answer": "{}"}) + "\n"
                                            + json.dumps({"id": "q2", "answer": "No."}) + "\n")
    (tmp_path / "suite.yaml").write_text(CHECKED)
    source = run_suite_file(tmp_path / "suite.yaml", tmp_path).run
    again = asyncio.run(rescore(source, reports_dir=tmp_path / "reports", cache_dir=tmp_path / "cache"))
    assert again.manifest.source_run == source.run_id
    assert [g.metric for g in again.manifest.gates] == ["check_json"]
    assert again.summary is not None and again.summary.gates == source.summary.gates


def test_the_situatedqa_suite_shows_what_current_only_retrieval_changes(tmp_path: Path) -> None:
    finished = run_suite_file(ROOT / "suites" / "situatedqa.yaml", tmp_path)
    got = {c.name: {m: c.metrics[m].value for m in ("stale_answer_rate", "superseded_source_rate", "mrr")}
           for c in finished.summaries}
    assert got["bm25-current"] == {"stale_answer_rate": 0.0, "superseded_source_rate": 0.0, "mrr": 1.0}
    assert got["bm25"]["superseded_source_rate"] > 0.3
    # the extractive answerer quotes its top passage: a stale answer comes only where a superseded
    # document ranks first (6 questions; the quote no longer stops at an initial, "was V. Narayanasamy")
    stale = [s for s in finished.samples if s["candidate"] == "bm25" and s["scores"]["stale_answer_rate"]["value"]]
    assert len(stale) == 6 and got["bm25"]["stale_answer_rate"] == 6 / 80
    assert all(s["scores"]["mrr"]["value"] < 1 for s in stale)
