"""offline-v5, the trained cross-encoder judge: its encoder, its windows, its cache by content, and
that the shipped weights give the figures on record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.core.records import Passage
from evalkit.judges.cross import (
    NAME,
    WINDOW_TOKENS,
    MemoryCache,
    chosen_windows,
    claim_input,
    shipped_encoder,
    windows,
)
from evalkit.judges.offline import OfflineJudge
from evalkit.judges.spec import shipped_file

ROOT = Path(__file__).resolve().parents[2]


def test_the_encoder_is_minilm() -> None:
    """evalkit.models.minilm loads the package's weights and embeds as sentence-transformers does."""
    import torch

    from evalkit.models.embeddings import encode
    from evalkit.models.minilm import load_base, tokenizer

    texts = ["The Normans gave their name to Normandy, a region in France.", "Short."]
    encoded = tokenizer().encode_batch(texts)
    width = max(len(e.ids) for e in encoded)
    ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in encoded])
    with torch.inference_mode():
        mine = load_base().embeddings(ids, (ids != 0).long()).numpy()
    assert abs(mine - encode(texts)).max() < 1e-5


def test_passages_are_cut_into_windows_at_sentence_ends() -> None:
    sentence = "The committee met in Geneva to discuss the treaty and its many annexes at length. "
    found = windows(sentence * 12 + "A" + " very" * 300 + " long sentence.")
    assert all(len(w.ids) <= WINDOW_TOKENS and w.ids[0] == 101 and w.ids[-1] == 102 for w in found)
    assert found[0].text.startswith("The committee") and found[0].text.endswith("at length.")
    assert sum(w.text.count("Geneva") for w in found) == 12  # every sentence in one window
    assert len(found) >= 4  # the 300-word sentence is cut into pieces


def test_a_short_answer_is_read_with_its_question() -> None:
    ids, types, selection = claim_input("France", "In what country is Normandy located?")
    assert selection == "In what country is Normandy located? France" and 1 in types and ids[-1] == 102
    ids, types, selection = claim_input("Normandy is a region of northern France, on the Channel.", "Where?")
    assert selection.startswith("Normandy") and set(types) == {0}


def test_evidence_is_chosen_by_the_claims_words() -> None:
    passages = [Passage(doc_id=f"d{i}", text=text, rank=i) for i, text in enumerate(
        ["Bananas are yellow.", "Rollo was the first ruler of Normandy.", "Paris is large.", "Cats sleep.",
         "Normandy lies in France."])]
    chosen = [w.text for w in chosen_windows("Who was the first ruler of Normandy? Rollo", passages)]
    assert chosen[0] == "Rollo was the first ruler of Normandy." and "Normandy lies in France." in chosen
    assert len(chosen) == 3


def test_evidence_is_encoded_once_per_text() -> None:
    """The keys and values of a window are cached by its text: the same paragraph under another doc
    id, or for another claim, is not encoded again; past its size the cache drops the oldest."""
    encoder = shipped_encoder()
    cache = encoder.cache = MemoryCache()
    text = "Rollo was the first ruler of Normandy. He agreed to swear fealty to King Charles III."
    judge = OfflineJudge(encoder, NAME)
    first = judge.judge("Rollo was the first ruler of Normandy.", [Passage(doc_id="a", text=text, rank=1)])
    assert cache.computed == 1
    again = judge.judge("Rollo was the first ruler of Normandy.", [Passage(doc_id="b", text=text, rank=1)])
    other = judge.judge("Rollo swore fealty to King Charles III.", [Passage(doc_id="c", text=text, rank=1)])
    assert cache.computed == 1 and len(other.claims) == 1
    assert again.claims[0].support == pytest.approx(first.claims[0].support, abs=1e-6)
    small = encoder.cache = MemoryCache(limit=1)
    for index in range(3):
        judge.judge("Rollo ruled.", [Passage(doc_id="d", text=f"{text} Version {index}.", rank=1)])
    assert small.computed == 3 and len(small._kept) == 1


def test_shipped_weights_give_the_recorded_figures() -> None:
    """The weights file is the one training recorded, and on a fixed sample of held-out rows the
    loaded judge gives the probabilities recorded when it was trained."""
    from evalkit.core.cache import file_sha256
    from evalkit.judges.calibration import load_labels

    training = json.loads(shipped_file(f"{NAME}.training.json").read_text(encoding="utf-8"))
    assert file_sha256(Path(str(shipped_file(f"{NAME}.safetensors")))) == training["weights"]["sha256"]
    rows = {r.answer + "|" + r.question: r for r in load_labels(ROOT / "suites/data/squad2/labels.jsonl.gz")}
    judge = OfflineJudge(shipped_encoder(), NAME)
    for sample in training["sample"]:
        row = rows[sample["answer"] + "|" + sample["question"]]
        verdict = judge.judge(row.answer, row.passages(), row.question)
        assert [c.support for c in verdict.claims] == pytest.approx(sample["support"], abs=1e-4)
    record = json.loads(shipped_file(f"{NAME}.json").read_text(encoding="utf-8"))
    assert "cross-validation" in record["method"] and record["n"] == 1198
    assert set(record["held_out"]) == {"squad2"}
