"""Citation and abstention metrics: hand-computed values, edge cases, and a recorded-output suite
that exercises each one end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Case, Output, Passage
from evalkit.core.specs import AbstentionSpec
from evalkit.core.text import parse_citations
from evalkit.metrics.abstention import declines, gives_distractor
from evalkit.metrics.citations import citation_precision, citation_recall, unsupported_citation_rate

DEFAULT = AbstentionSpec()


def test_citations_are_parsed_in_one_way_and_none_is_dropped() -> None:
    answer = "Aspirin helps [d1]. Water boils at 100 C [d2, d9; d1]. Unrelated [ ] text [x-7]."
    assert parse_citations(answer) == ["d1", "d2", "d9", "x-7"]  # d9 and x-7 were perhaps never retrieved
    assert parse_citations("no citations here") == []


@pytest.mark.parametrize(("cited", "expected", "precision", "recall"), [
    (["d1", "d2"], {"d1"}, 0.5, 1.0),
    (["d1", "d1"], {"d1", "d3"}, 1.0, 0.5),  # citing twice counts once
    (["d9"], {"d1"}, 0.0, 0.0),
    ([], {"d1"}, None, 0.0),  # no citations: precision is not applicable, recall is 0
])
def test_citation_precision_and_recall(cited: list[str], expected: set[str], precision: float | None,
                                       recall: float) -> None:
    assert citation_precision(cited, expected) == precision
    assert citation_recall(cited, expected) == recall


def test_unsupported_citation_rate() -> None:
    assert unsupported_citation_rate(["d1", "d9"], {"d1", "d2"}) == 0.5  # d9 was never retrieved
    assert unsupported_citation_rate(["d1"], {"d1"}) == 0.0
    assert unsupported_citation_rate([], {"d1"}) is None


@pytest.mark.parametrize(("answer", "declined"), [
    ("I don't know.", True),
    ("I DO NOT KNOW", True),
    ("The passages do not say when it was built.", True),
    ("Sorry, I cannot answer that from these passages.", True),
    ("", True),
    ("   ", True),
    ("The Normans came from Normandy.", False),
    ("It is not known to cannot-answerers.", False),  # words, not substrings
])
def test_declines(answer: str, declined: bool) -> None:
    assert declines(answer, DEFAULT) is declined


def test_declining_is_configurable() -> None:
    strict = AbstentionSpec(phrases=("no comment",), empty=False)
    assert declines("No comment!", strict) and not declines("I don't know", strict) and not declines("", strict)


def test_distractors_are_matched_as_normalised_words() -> None:
    distractors = ["the Duchy of Normandy", "1066"]
    assert gives_distractor("It was Duchy of Normandy.", distractors, DEFAULT)  # articles and punctuation aside
    assert gives_distractor("In 1066, probably.", distractors, DEFAULT)
    assert not gives_distractor("In 10667.", distractors, DEFAULT)
    assert not gives_distractor("I don't know; maybe 1066", distractors, DEFAULT)  # it declined


def score(metric: str, case: Case, output: Output) -> dict:
    from evalkit.judges.offline import OfflineJudge
    from evalkit.metrics.base import MetricContext, build_metric
    from evalkit.runner.score import score_one

    built = build_metric(metric, MetricContext(judge=OfflineJudge()))
    return asyncio.run(score_one(built, case, output)).model_dump(exclude_defaults=True)


def test_abstention_metrics_apply_to_their_cases_only() -> None:
    answerable = Case(id="a", question="Who?", expected_answer="Rollo")
    unanswerable = Case(id="u", question="Who?", answerable=False, distractors=["Rollo"])
    declined, guessed = Output(answer="I don't know."), Output(answer="Rollo, of course.")
    assert score("abstain_rate_unanswerable", unanswerable, declined) == {"value": 1.0}
    assert score("abstain_rate_unanswerable", unanswerable, guessed) == {"value": 0.0}
    assert score("abstain_rate_unanswerable", answerable, declined) == {"skipped": "the case is answerable"}
    assert score("false_abstain_rate", answerable, declined) == {"value": 1.0}
    assert score("false_abstain_rate", unanswerable, declined) == {"skipped": "the case is unanswerable"}
    assert score("distractor_rate", unanswerable, guessed) == {"value": 1.0}
    assert score("distractor_rate", unanswerable.model_copy(update={"distractors": []}), guessed) == {
        "skipped": "the case has no distractors"}


def test_a_declining_answer_makes_no_claim_for_faithfulness_to_judge() -> None:
    case = Case(id="u", question="Who?", answerable=False)
    passages = [Passage(doc_id="Normans#1", text="Rollo was a Viking leader.", rank=1)]
    declined = Output(answer="The passages do not say.", passages=passages)
    assert score("faithfulness", case, declined) == {"skipped": "the answer declines: it makes no claim to check"}
    assert score("faithfulness", case, Output(answer="Rollo was a Viking.", passages=passages))["value"] == 1.0


def test_citation_metrics_on_outputs() -> None:
    case = Case(id="c", question="q?", expected_sources=["d1", "d2"])
    output = Output(answer="x [d1] [d7]", citations=["d1", "d7"], passages=[Passage(doc_id="d1", rank=1)])
    assert score("citation_precision", case, output) == {"value": 0.5, "details": {"cited": ["d1", "d7"]}}
    assert score("citation_recall", case, output) == {"value": 0.5}
    assert score("unsupported_citation_rate", case, output) == {"value": 0.5, "details": {"cited": ["d1", "d7"]}}
    assert score("citation_precision", case, Output(answer="x")) == {"skipped": "the answer cites nothing"}
    assert score("citation_recall", Case(id="n", question="q?"), output) == {"skipped": "case has no expected_sources"}


SUITE = """name: decisions
cases:
  - {id: q1, question: 'Who founded Normandy?', expected_answer: Rollo, expected_sources: [d1]}
  - {id: q2, question: 'Who was king in 1200?', expected_answer: John, expected_sources: [d2]}
  - {id: q3, question: 'Who founded Atlantis?', answerable: false, distractors: [Rollo, Poseidon]}
  - {id: q4, question: 'When did Atlantis sink?', answerable: false, distractors: ['9600 BC']}
candidates:
  - {name: product, kind: recorded, path: outputs.jsonl}
metrics: [citation_precision, citation_recall, unsupported_citation_rate, abstain_rate_unanswerable,
          false_abstain_rate, distractor_rate, token_f1, citation_support]
gates:
  - {metric: unsupported_citation_rate, max: 0.2}
"""
OUTPUTS = [
    {"id": "q1", "answer": "Rollo [d1].", "retrieved_ids": ["d1", "d3"], "citations": ["d1"],
     "contexts": ["Normandy was founded by Rollo.", "Other."]},
    {"id": "q2", "answer": "I don't know.", "retrieved_ids": ["d3"]},
    {"id": "q3", "answer": "Poseidon founded it [d8].", "retrieved_ids": ["d3"], "citations": ["d8"]},
    {"id": "q4", "answer": "The passages do not say.", "retrieved_ids": ["d3"]},
]


def test_an_abstention_metric_without_unanswerable_cases_is_a_suite_error(tmp_path: Path) -> None:
    from evalkit.config.suite import load_suite

    (tmp_path / "outputs.jsonl").write_text("")
    (tmp_path / "suite.yaml").write_text(SUITE.replace("answerable: false, ", ""))
    with pytest.raises(EvalkitError, match="is measured on unanswerable cases, and every case is answerable"):
        load_suite(tmp_path / "suite.yaml")


SCHEMA = {"type": "object", "required": ["answer", "confidence"],
          "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "maximum": 1}}}


@pytest.mark.parametrize(("rules", "answer", "failed"), [
    ({"json_schema": SCHEMA}, '{"answer": "Rollo", "confidence": 0.9}', []),
    ({"json_schema": SCHEMA}, '{"answer": "Rollo"', ["not JSON (Expecting ',' delimiter at column 19)"]),
    ({"json_schema": SCHEMA}, '{"answer": 7, "confidence": 3}',
     ["answer: 7 is not of type 'string'", "confidence: 3 is greater than the maximum of 1"]),
    ({"json_schema": SCHEMA}, '{"answer": "x"}', ["the answer: 'confidence' is a required property"]),
    ({"regex": r"\[[^\]]+\]"}, "Rollo [d1].", []),
    ({"regex": r"\[[^\]]+\]"}, "Rollo.", ["does not match /\\[[^\\]]+\\]/"]),
    ({"max_words": 3}, "One two three [d1].", []),  # citation marks are not words
    ({"max_words": 2}, "One two three.", ["3 words, more than 2"]),
    ({"max_chars": 5}, "123456", ["6 characters, more than 5"]),
    ({"contains": ["refund", "30 days"]}, "A REFUND, yes.", []),
    ({"contains": ["refund", "30 days"], "match": "all"}, "A refund.", ["does not contain ['30 days']"]),
    ({"contains": ["refund"]}, "", ["does not contain any of ['refund']"]),
    ({"not_contains": ["sorry", "as an AI"]}, "Sorry, as an ai I cannot.", ["contains ['sorry', 'as an AI']"]),
    ({"starts_with": "Yes"}, "  Yes, within 30 days.", []),
    ({"starts_with": "Yes"}, "No.", ["does not start with 'Yes'"]),
])
def test_checks(rules: dict, answer: str, failed: list[str]) -> None:
    from evalkit.core.specs import CheckSpec
    from evalkit.metrics.checks import failures

    assert failures(CheckSpec(name="c", **rules), answer) == failed


CHECKED = """name: checked
cases:
  - {id: q1, question: 'Refund window?', expected_answer: 30 days}
  - id: q2
    question: 'Can I pay in bitcoin?'
    checks: [{name: says_no, starts_with: 'No'}]
candidates:
  - {name: product, kind: recorded, path: outputs.jsonl}
metrics: [token_f1]
checks:
  - {name: json, json_schema: schema.json}
  - {name: short, max_words: 12}
gates:
  - {metric: check_json, min: 1.0}
"""


def test_a_schema_that_is_not_a_schema_is_a_suite_error(tmp_path: Path) -> None:
    from evalkit.config.suite import load_suite

    (tmp_path / "schema.json").write_text(json.dumps({"type": "banana"}))
    (tmp_path / "outputs.jsonl").write_text("")
    (tmp_path / "suite.yaml").write_text(CHECKED)
    with pytest.raises(EvalkitError) as info:
        load_suite(tmp_path / "suite.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'suite.yaml'}:11: checks[0].json_schema: not a valid JSON Schema: "
                                      "'banana' is not valid under any of the given schemas")


def test_cited_spans_pair_each_statement_with_its_marks() -> None:
    from evalkit.core.text import cited_spans

    answer = "Aspirin reduces fever [d1]. It is cheap [d2, d3]. Uncited tail."
    assert cited_spans(answer) == [("Aspirin reduces fever", ["d1"]), ("It is cheap", ["d2", "d3"])]
    assert cited_spans("Extractive style. [d1] Next sentence. [d2]") == [("Extractive style", ["d1"]),
                                                                      ("Next sentence", ["d2"])]
    assert cited_spans("nothing cited") == []


def test_citation_support_checks_each_statement_against_what_it_cites() -> None:
    case = Case(id="c", question="What reduces fever?")
    passages = [Passage(doc_id="d1", text="Aspirin reduces fever in adults.", rank=1),
                Passage(doc_id="d2", text="Water boils at 100 degrees.", rank=2)]
    answer = "Aspirin reduces fever [d1]. Aspirin reduces fever [d2]. Water boils at 100 degrees [d9]."
    got = score("citation_support", case, Output(answer=answer, passages=passages))
    assert got["value"] == pytest.approx(1 / 3)  # only the first statement is supported by what it cites
    supported = [s["supported"] for s in got["details"]["statements"]]
    assert supported == [True, False, False]
    assert got["details"]["statements"][2]["reason"] == "cites no retrieved passage"
    assert score("citation_support", case, Output(answer="No marks.", passages=passages)) == {
        "skipped": "the answer cites nothing"}


