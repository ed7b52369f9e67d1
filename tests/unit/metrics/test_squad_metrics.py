"""exact_match and token_f1 as the official SQuAD 2.0 scorer defines them, on hand-checked cases and
on a recorded prediction file over real SQuAD 2.0 questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.core.records import Case
from evalkit.core.specs import AbstentionSpec
from evalkit.metrics.answer import squad_score
from tests.conftest import ROOT

SPEC = AbstentionSpec()


def case(*answers: str, answerable: bool = True) -> Case:
    return Case(id="q", question="?", expected_answer=answers[0] if answers else None,
                accepted_answers=list(answers[1:]), answerable=answerable)


@pytest.mark.parametrize(("prediction", "gold", "em", "f1"), [
    ("the Normans", ("Normans",), 1.0, 1.0),  # articles are dropped
    ("Normans.", ("Normans",), 1.0, 1.0),  # so is punctuation
    ("An   apple, a day", ("apple day",), 1.0, 1.0),  # and extra spaces
    ("10th century", ("10th and 11th centuries", "10th century"), 1.0, 1.0),  # the best of several answers
    # [in 10th] vs [10th and 11th centuries]: 1 common token, precision 1/2, recall 1/4
    ("in the 10th", ("10th and 11th centuries",), 0.0, 2 * (1 / 2) * (1 / 4) / (1 / 2 + 1 / 4)),
    ("Rollo [Normans#0]", ("Rollo",), 1.0, 1.0),  # citation marks are not part of the answer
    ("I don't know.", ("Rollo",), 0.0, 0.0),  # declining an answerable question is the empty prediction
])
def test_answerable(prediction: str, gold: tuple[str, ...], em: float, f1: float) -> None:
    assert squad_score("exact_match", prediction, case(*gold), SPEC) == em
    assert squad_score("token_f1", prediction, case(*gold), SPEC) == pytest.approx(f1)


@pytest.mark.parametrize(("prediction", "score"), [
    ("", 1.0), ("The passages do not say.", 1.0), ("I don't know", 1.0),  # declining is right
    ("Normans", 0.0),  # any answer is wrong
    ("the", 1.0),  # normalises to the empty string: the scorer reads it as no answer
])
def test_unanswerable_is_right_only_when_declined(prediction: str, score: float) -> None:
    unanswerable = case(answerable=False)
    assert squad_score("exact_match", prediction, unanswerable, SPEC) == score
    assert squad_score("token_f1", prediction, unanswerable, SPEC) == score


def test_a_recorded_prediction_file_scores_as_computed_by_hand() -> None:
    """Eight real SQuAD 2.0 dev questions and recorded predictions; expected scores worked out by hand
    from the official scorer's rules."""
    cases = {c["id"]: c for c in map(json.loads, (ROOT / "suites/data/squad2/cases.jsonl").read_text().splitlines())}
    predictions = json.loads((Path(__file__).parents[2] / "data" / "squad2-predictions.json").read_text())
    expected = {  # qid: (exact match, F1)
        "56ddde6b9a695914005b9628": (1.0, 1.0),  # "france" = gold "France"
        # [10th century and 11th centuries] vs gold [10th and 11th centuries]: 4 common, p 4/5, r 4/4
        # (the other gold, [in 10th and 11th centuries], gives p 4/5, r 4/5: lower)
        "56ddde6b9a695914005b9629": (0.0, 2 * (4 / 5) * 1 / (4 / 5 + 1)),
        "56ddde6b9a695914005b962b": (1.0, 1.0),  # "Rollo."
        "5ad39d53604f3c001a3fe8d1": (0.0, 0.0),  # unanswerable, answered "Normans"
        "5ad3a266604f3c001a3fea27": (1.0, 1.0),  # unanswerable, declined
        "56dddf4066d3e219004dad5f": (0.0, 2 * 1 * (1 / 2) / (1 + 1 / 2)),  # [william] vs [william conqueror]
        "56dde0379a695914005b9636": (1.0, 1.0),  # "Viking" is one of the golds
        "56dde0379a695914005b9637": (0.0, 0.0),  # declined an answerable question
    }
    for qid, (em, f1) in expected.items():
        raw = cases[qid]
        item = Case(**{k: v for k, v in raw.items() if k in Case.model_fields})
        assert squad_score("exact_match", predictions[qid], item, SPEC) == em, qid
        assert squad_score("token_f1", predictions[qid], item, SPEC) == pytest.approx(f1), qid


def test_shipped_short_answer_labels_follow_squads_annotations() -> None:
    """suites/data/squad2/labels.jsonl.gz: an annotated answer to each answerable question is
    labelled supported, a plausible answer to each unanswerable one unsupported; every answer is a
    span of its paragraph, so only reading the question tells them apart (docs/calibration.md)."""
    import gzip

    from evalkit.judges.calibration import load_labels

    data = ROOT / "suites" / "data" / "squad2"
    assert len(load_labels(data / "labels.jsonl.gz")) == 1407  # a valid calibration file
    with gzip.open(data / "labels.jsonl.gz", "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    cases = {c["id"]: c for c in map(json.loads, (data / "cases.jsonl").read_text(encoding="utf-8").splitlines())}
    assert sum(r["label"] for r in rows) == 705 and {r["id"] for r in rows} == set(cases)
    for row in rows:
        case = cases[row["id"]]
        assert row["answer"] in row["contexts"][0] and row["question"] == case["question"]
        if row["label"]:
            assert row["answer"] in [case["expected_answer"], *case["accepted_answers"]]
        else:
            assert case["answerable"] is False and row["answer"] in case["distractors"]
