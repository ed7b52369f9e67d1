"""Loading suites: valid ones load; each bad one gets one exact line naming file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.config.suite import load_suite
from evalkit.core.errors import EvalkitError

CORPUS = [{"id": "d1", "title": "Aspirin", "text": "Aspirin reduces fever."},
          {"id": "d2", "title": "Water", "text": "Water boils at 100 degrees."}]

GOOD = """name: tiny
corpus:
  path: corpus.jsonl
cases:
  - id: q1
    question: What reduces fever?
    expected_answer: Aspirin reduces fever.
    expected_sources: [d1]
candidates:
  - name: bm25
    kind: rag
    retriever: {kind: bm25, top_k: 2}
metrics: [recall@2, token_f1]
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(EvalkitError) as info:
        load_suite(path)
    return str(info.value).replace(str(tmp_path) + "/", "")


def test_good_suite_loads(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, GOOD))
    assert [c.id for c in suite.cases] == ["q1"]
    assert suite.candidates[0].flat_params()["retriever.kind"] == "bm25"
    assert len(suite.corpus or {}) == 2


BAD = [
    ("typo in a candidate key",
     GOOD.replace("    retriever: {kind: bm25", "    retriver: {kind: bm25"),
     "suite.yaml:12: candidates[0]: unknown key 'retriver' (hint: did you mean 'retriever'?)"),
    ("typo in a top-level key",
     GOOD.replace("metrics:", "metric:"),
     "suite.yaml:13: top level: unknown key 'metric' (hint: did you mean 'metrics'?)"),
    ("unknown metric",
     GOOD.replace("recall@2", "recal@2"),
     "suite.yaml:13: metrics[0]: unknown metric 'recal' (hint: did you mean 'recall'?)"),
    ("metric that needs a cutoff",
     GOOD.replace("recall@2", "recall"),
     "suite.yaml:13: metrics[0]: metric 'recall' needs a cutoff (hint: write 'recall@10')"),
    ("unknown candidate kind",
     GOOD.replace("kind: rag", "kind: rgs"),
     "suite.yaml:11: candidates[0].kind: unknown candidate kind 'rgs' (hint: did you mean 'rag'?)"),
    ("bad retriever kind",
     GOOD.replace("kind: bm25", "kind: bm26"),
     "suite.yaml:12: candidates[0].retriever.kind: input should be 'bm25', 'dense' or 'hybrid'"),
    ("empty question",
     GOOD.replace("question: What reduces fever?", "question: '  '"),
     "suite.yaml:6: cases[0].question: string should have at least 1 character"),
    ("expected source not in corpus",
     GOOD.replace("expected_sources: [d1]", "expected_sources: [d9]"),
     "suite.yaml:5: case 'q1': expected source 'd9' is not a document id in the corpus (hint: check the corpus id field)"),
    ("duplicate case ids",
     GOOD.replace("candidates:", "  - id: q1\n    question: again?\ncandidates:"),
     "suite.yaml:9: duplicate case id 'q1' (first at suite.yaml:5)"),
    ("missing corpus file",
     GOOD.replace("path: corpus.jsonl", "path: nowhere.jsonl"),
     "suite.yaml:3: corpus not found: nowhere.jsonl (hint: paths in a suite are relative to the suite file)"),
    ("answer metric with no expected answers",
     GOOD.replace("    expected_answer: Aspirin reduces fever.\n", ""),
     "suite.yaml:12: metrics[1]: metric 'token_f1' needs expected_answer, but no case has one "
     "(hint: add expected_answer to the cases or remove the metric)"),
    ("gate on a metric not computed",
     GOOD + "gates:\n  - metric: ndcg@10\n    min: 0.5\n",
     "suite.yaml:15: gate on metric 'ndcg@10', which the suite does not compute (hint: add it to 'metrics:')"),
    ("gate without a bound",
     GOOD + "gates:\n  - metric: recall@2\n",
     "suite.yaml:15: gates[0]: a gate needs 'min', 'max' or 'no_regression'"),
    ("duplicate key",
     GOOD.replace("name: tiny", "name: tiny\nname: again"),
     "suite.yaml:2: duplicate key 'name'"),
    ("not YAML",
     "name: [unclosed\n",
     "suite.yaml:2: not valid YAML (expected ',' or ']', but got '<stream end>') "
     "(hint: quote text that contains ': ', ' #', '?' or brackets)"),
    ("wrong type",
     GOOD.replace("top_k: 2", "top_k: many"),
     "suite.yaml:12: candidates[0].retriever.top_k: input should be a valid integer, "
     "unable to parse string as an integer"),
    ("unknown judge kind",
     GOOD + "judge: {kind: ragaz, model: gpt-4o-mini}\n",
     "suite.yaml:14: judge: unknown kind 'ragaz' (hint: did you mean 'ragas'?)"),
    ("model judge without a model",
     GOOD + "judge: {kind: model}\n",
     "suite.yaml:14: judge: missing required key 'model'"),
    ("typo in a model judge key",
     GOOD + "judge: {kind: model, model: gpt-4o-mini, concurency: 16}\n",
     "suite.yaml:14: judge: unknown key 'concurency' (hint: did you mean 'concurrency'?)"),
    ("typo in a tagged generator's key",
     GOOD.replace("retriever: {kind: bm25, top_k: 2}", "retriever: {kind: bm25, top_k: 2}\n"
                  "    generator: {kind: chat, modle: gpt-4o-mini}"),
     "suite.yaml:13: candidates[0].generator: unknown key 'modle' (hint: did you mean 'model'?)"),
    ("a generator without its kind",
     GOOD.replace("retriever: {kind: bm25, top_k: 2}", "retriever: {kind: bm25, top_k: 2}\n"
                  "    generator: {model: gpt-4o-mini}"),
     "suite.yaml:13: candidates[0].generator: missing required key 'kind' (hint: one of: extractive, chat)"),
    ("a labels file that is not there",
     GOOD + "labels: labels.csv\n",
     "suite.yaml:14: labels file not found: labels.csv (hint: write one with `evalkit labels sample "
     "RUN_DIR`; paths are relative to the suite)"),
    ("a PPI gate on a metric no judge scores",
     GOOD + "gates:\n  - {metric: recall@2, statistic: ppi_ci_low, min: 0.5}\n",
     "suite.yaml:15: statistic 'ppi_ci_low' on 'recall@2', which no judge scores (hint: PPI corrects a judged "
     "metric (e.g. faithfulness) with human labels)"),
    ("gate on an unknown operational metric",
     GOOD + "gates:\n  - {metric: latency_50, max: 1}\n",
     "suite.yaml:15: gate on metric 'latency_50', which the suite does not compute (hint: did you mean "
     "'latency_p50'?)"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD], ids=[n for n, _, _ in BAD])
def test_bad_suite_message(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message == expected.replace("{tmp}", str(tmp_path))
    assert "\n" not in message


def test_corrupt_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (tmp_path / "corpus.jsonl").write_text(json.dumps(CORPUS[0]) + "\n{\"id\": \"d2\", \"text\": \n")
    with pytest.raises(EvalkitError) as info:
        load_suite(path)
    assert str(info.value).endswith(
        "corpus.jsonl:2: not valid JSON (Expecting value at column 23) "
        "(hint: each line of a .jsonl file must be one JSON object)")


def test_cases_from_csv_with_lists(tmp_path: Path) -> None:
    (tmp_path / "cases.csv").write_text("id,question,expected_sources,tags\n1,What boils?,d2,physics;easy\n")
    text = GOOD[: GOOD.index("cases:")] + "cases:\n  path: cases.csv\n" + GOOD[GOOD.index("candidates:"):]
    suite = load_suite(write(tmp_path, text.replace(", token_f1", "")))
    assert suite.cases[0].expected_sources == ["d2"] and suite.cases[0].tags == ["physics", "easy"]


def test_case_file_error_points_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text('{"id": "1", "question": "ok?"}\n{"id": "2", "questoin": "typo"}\n')
    text = GOOD[: GOOD.index("cases:")] + "cases:\n  path: cases.jsonl\n" + GOOD[GOOD.index("candidates:"):]
    with pytest.raises(EvalkitError) as info:
        load_suite(write(tmp_path, text.replace(", token_f1", "").replace("recall@2", "mrr")))
    assert str(info.value) == f"{tmp_path}/cases.jsonl:2: top level: unknown key 'questoin' (hint: did you mean 'question'?)"


def test_a_cases_file_can_be_filtered_by_tag(tmp_path: Path) -> None:
    rows = [{"id": f"q{i}", "question": "What reduces fever?", "expected_answer": "Aspirin",
             "expected_sources": ["d1"], "tags": [tag]}
            for i, tag in enumerate(["train", "held-out", "train", "held-out", "held-out"])]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = GOOD.replace(GOOD[GOOD.index("cases:"):GOOD.index("candidates:")],
                        "cases: {path: cases.jsonl, tags: [held-out], limit: 2}\n")
    assert [c.id for c in load_suite(write(tmp_path, text)).cases] == ["q1", "q3"]  # the limit counts kept cases
