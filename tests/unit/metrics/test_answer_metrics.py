from __future__ import annotations

import pytest

from evalkit.metrics.answer import rouge_l, token_f1


@pytest.mark.parametrize(("prediction", "reference", "expected"), [
    ("The cat sat", "the cat sat", 1.0),
    ("a cat", "the dog", 0.0),
    ("cat sat on mat", "the cat sat", 2 * (2 / 4) * (2 / 2) / ((2 / 4) + 1)),
    ("", "", 1.0),
    ("", "cat", 0.0),
])
def test_token_f1(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_rouge_l_matches_rouge_score() -> None:
    from rouge_score import rouge_scorer

    reference, prediction = "police killed the gunman", "the gunman was shot down by police"
    expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(reference, prediction)["rougeL"].fmeasure
    assert rouge_l(prediction, reference) == pytest.approx(expected)
    assert rouge_l("same words here", "same words here") == 1.0


def test_semantic_similarity_with_local_model() -> None:
    from evalkit.models.embeddings import cosine_similarity

    close = cosine_similarity("Aspirin lowers fever.", "Fever is reduced by aspirin.")
    far = cosine_similarity("Aspirin lowers fever.", "The stock market fell on Tuesday.")
    assert close > 0.7 and far < 0.3


def test_a_truncated_encode_leaves_the_shared_model_alone() -> None:
    from evalkit.models.embeddings import encode, load_model

    long_text = "aspirin " * 300
    full = encode([long_text])[0]
    truncated = encode([long_text], max_tokens=16)[0]
    assert load_model().max_seq_length == 256  # the dense retriever's 128-token limit does not leak
    assert (full == encode([long_text])[0]).all() and not (full == truncated).all()
