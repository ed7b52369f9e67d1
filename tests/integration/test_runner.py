"""The runner records errors as data, counts them apart, and sets the exit code from the error limit."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.core.errors import ExitCode
from evalkit.runner.store import read_run
from tests.conftest import run_suite_file

SUITE = """name: recorded
cases:
  - {id: q1, question: 'What reduces fever?', expected_answer: Aspirin reduces fever., expected_sources: [d1]}
  - {id: q2, question: 'When does water boil?', expected_answer: At 100 degrees., expected_sources: [d2]}
  - {id: q3, question: 'Who wrote it?', expected_answer: Nobody., expected_sources: [d3]}
candidates:
  - {name: product, kind: recorded, path: outputs.jsonl}
metrics: [recall@1, token_f1, faithfulness]
gates:
  - {metric: recall@1, min: 0.5}
max_error_rate: %s
"""
OUTPUTS = [
    {"id": "q1", "answer": "Aspirin reduces fever.", "retrieved_ids": ["d1"], "contexts": ["Aspirin reduces fever."]},
    {"id": "q2", "answer": "At 90 degrees.", "retrieved_ids": ["d9", "d2"], "contexts": ["x", "Water boils at 100 degrees."]},
    # q3 has no recorded output: the candidate errors on it
]


def run(tmp_path: Path, max_error_rate: float):
    (tmp_path / "outputs.jsonl").write_text("".join(json.dumps(o) + "\n" for o in OUTPUTS))
    (tmp_path / "suite.yaml").write_text(SUITE % max_error_rate)
    return run_suite_file(tmp_path / "suite.yaml", tmp_path)


def test_errors_are_counted_apart_never_averaged(tmp_path: Path) -> None:
    outcome = run(tmp_path, 0.5)
    (summary,) = outcome.summaries
    recall = summary.metrics["recall@1"]
    assert (recall.n, recall.n_errors, recall.value) == (2, 1, 0.5)  # q3 errored; not a zero
    assert summary.n_failed == 1
    faith = summary.metrics["faithfulness"]
    assert faith.n == 2 and faith.judge == "offline-v7" and faith.value == 0.5  # "90" is not in the evidence
    record = next(s for s in outcome.samples if s["case_id"] == "q3")
    assert record["output"]["error"] == "no recorded output for case 'q3' in outputs.jsonl"
    assert record["scores"]["recall@1"]["error"].startswith("candidate failed")
    assert outcome.exit_code == ExitCode.OK  # 1 of 3 errored, under the 0.5 limit; recall 0.5 passes


def test_error_rate_over_limit_is_incomplete(tmp_path: Path) -> None:
    assert run(tmp_path, 0.0).exit_code == ExitCode.INCOMPLETE


def test_saved_run_reads_back_identically(tmp_path: Path) -> None:
    outcome = run(tmp_path, 0.5)
    saved = read_run(outcome.folder)
    assert saved.samples == outcome.run.samples and saved.manifest == outcome.run.manifest
    assert saved.summary == outcome.summary and saved.summary.candidates[0].metrics["recall@1"].value == 0.5


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    outcome = run(tmp_path, 0.5)
    with open(outcome.folder / "samples.jsonl", "a") as handle:
        handle.write('{"candidate": "product", "case_')  # killed mid-write
    assert len(read_run(outcome.folder).samples) == 3
