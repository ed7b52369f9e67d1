"""The offline judge on hand-made cases: what it must catch and what it must let through."""

from __future__ import annotations

import pytest

from evalkit.core.records import Passage
from evalkit.judges.offline import OfflineJudge

EVIDENCE = [Passage(doc_id="d1", text="Aspirin reduced fever in 42 of 50 patients within two hours. "
                                      "The drug was not associated with stomach bleeding in this trial.", rank=1),
            Passage(doc_id="d2", text="The study was led by Maria Keller at the University of Basel in 2019.", rank=2)]


@pytest.mark.parametrize(("answer", "supported", "reason"), [
    ("Aspirin reduced fever in 42 of 50 patients.", True, ""),
    ("In 42 of 50 patients, fever was reduced by aspirin within two hours.", True, ""),  # paraphrase
    ("Aspirin reduced fever in 45 of 50 patients.", False, "number 45 is not in the evidence"),
    ("The drug was associated with stomach bleeding in this trial.", False, "negation differs from the evidence"),
    ("The study was led by John Smith at the University of Basel.", False, None),  # invented name
    ("The study was led by Maria Keller at the University of Basel in 2021.", False, "number 2021 is not in the evidence"),
])
def test_claim_verdicts(answer: str, supported: bool, reason: str | None) -> None:
    verdict = OfflineJudge().judge(answer, EVIDENCE)
    (claim,) = verdict.claims
    assert claim.supported is supported, claim
    if reason is not None:
        assert claim.reason == reason
    if supported:
        assert claim.doc_id == "d1" and claim.evidence


def test_score_is_share_of_supported_claims_and_deterministic() -> None:
    answer = "Aspirin reduced fever in 42 of 50 patients. The study was led by Maria Keller. It cured cancer."
    first = OfflineJudge().judge(answer, EVIDENCE)
    assert [c.supported for c in first.claims] == [True, True, False]
    assert first.score == pytest.approx(2 / 3)
    assert OfflineJudge().judge(answer, EVIDENCE) == first


def test_a_sentence_copied_from_the_evidence_is_supported() -> None:
    passage = Passage(doc_id="d3", text="Upregulated PD-1 Expression Is Associated with the Development of Systemic "
                      "Lupus Erythematosus, but Not the PD-1.1 Allele of the PDCD1 Gene. It mimics EBV-infected cells.",
                      rank=1)
    verdict = OfflineJudge().judge(passage.text, [passage])
    assert verdict.score == 1.0, verdict.claims


def test_a_name_the_question_gave_is_not_invented() -> None:
    """'Basel' in the claim comes from the question, not the passage: v2 failed such claims (72 of
    AttributionBench's supported answers); an unknown name still fails."""
    passages = [Passage(doc_id="d1", text="The study was led by Maria Keller, who works at the university.", rank=1)]
    asked = "Who led the study at the University of Basel?"
    (claim,) = OfflineJudge().judge("Maria Keller led the study at the University of Basel.", passages, asked).claims
    assert claim.failed_check is None
    (claim,) = OfflineJudge().judge("John Smith led the study at the University of Basel.", passages, asked).claims
    assert claim.failed_check == "name" and claim.reason == "name 'smith' is not in the evidence"


def test_embeddings_are_cached_by_text_and_can_be_forgotten() -> None:
    from evalkit.judges.semantic import EmbeddingCache

    cache = EmbeddingCache(size=3)
    first = cache.vectors(["Aspirin reduces fever.", "Water boils at 100 degrees."])
    assert first.shape == (2, 128) and len(cache) == 2
    assert (cache.vectors(["Water boils at 100 degrees."])[0] == first[1]).all()  # from the cache, same vector
    cache.vectors(["a", "b"])
    assert len(cache) == 3  # the least recently used text went
    cache.forget(["a"])
    assert len(cache) == 2
    cache.forget()
    assert len(cache) == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("The president was John F. Kennedy. He was elected in 1960.",
     ["The president was John F. Kennedy.", "He was elected in 1960."]),
    ("The last king was George V. Then came a republic.", ["The last king was George V. Then came a republic."]),
    ("The U.S. Army won. Dr. Smith said so.", ["The U.S. Army won.", "Dr. Smith said so."]),
    ("It was I. Then he came.", ["It was I.", "Then he came."]),  # the pronoun is not an initial
    ("It ended in 1945. Peace followed.", ["It ended in 1945.", "Peace followed."]),
    ("One.\n\nTwo", ["One.", "Two"]),
])
def test_sentences_do_not_end_at_initials(text: str, expected: list[str]) -> None:
    from evalkit.core.text import sentences

    assert sentences(text) == expected
