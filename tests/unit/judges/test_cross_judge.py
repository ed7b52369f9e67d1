"""offline-v6, the trained cross-encoder judge: its encoder, its windows, its cache by content, and
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
    quoted,
    shipped_encoder,
    windows,
)
from evalkit.judges.offline import OfflineJudge
from evalkit.judges.spec import shipped_file
from evalkit.models.minilm import tokenizer
from training.train_cross import TRAIN_ARTICLES

ROOT = Path(__file__).resolve().parents[3]


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


def test_a_short_answer_is_read_with_its_question_and_the_window_that_holds_it() -> None:
    passages = [Passage(doc_id="a", text="Paris is large. " * 20 + "Rollo ruled Normandy, in France.", rank=1),
                Passage(doc_id="b", text="In what country is Normandy located? Nobody knows.", rank=2)]
    read = claim_input("France", "In what country is Normandy located?", passages)
    assert read.short and not read.windows  # read jointly, not from the cache
    question_answer = tokenizer().encode("In what country is Normandy located?", "France").ids
    assert read.ids[:read.pool] == question_answer and 1 in read.types[:read.pool]
    evidence = tokenizer().decode(read.ids[read.pool:])
    assert "rollo ruled normandy" in evidence and "nobody" not in evidence and read.ids[-1] == 102
    # no window holds the answer: the one that shares most words with the question and the answer
    read = claim_input("Spain", "In what country is Normandy located?", passages)
    assert "nobody knows" in tokenizer().decode(read.ids[read.pool:])
    read = claim_input("Normandy is a region of northern France, on the Channel.", "Where?", passages)
    assert not read.short and read.pool == len(read.ids) and set(read.types) == {0} and read.windows


def test_a_sentence_the_passage_holds_word_for_word_is_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted sentence is what the evidence says: supported whatever the model's probability
    (without the rule the judge rejects this one). A span of the paragraph is not settled this way,
    since a plausible wrong answer is one too, nor is a sentence with one fact swapped."""
    text = ("Victoria has many schools. Just under 540,800 students were enrolled in public schools, and just "
            "over 311,800 in private schools. Other things.")
    passages = [Passage(doc_id="a", text=text, rank=1)]
    sentence = "Just under 540,800 students were enrolled in public schools, and just over 311,800 in private schools."
    assert quoted(sentence, passages) and quoted(sentence.upper().replace(",", ""), passages)
    assert not quoted("students were enrolled in public schools, and just over 311,800", passages)
    judge = OfflineJudge(shipped_encoder(), NAME)
    assert judge.judge(sentence, passages).claims[0].support == 1.0
    swapped = sentence.replace("public", "PRIVATE").replace("private schools", "public schools")
    assert not quoted(swapped, passages) and not judge.judge(swapped, passages).claims[0].supported
    monkeypatch.setattr("evalkit.judges.cross.quoted", lambda claim, passages: False)
    assert not judge.judge(sentence, passages).claims[0].supported  # the rule, not the model, supports it


def test_evidence_is_chosen_by_the_claims_words() -> None:
    passages = [Passage(doc_id=f"d{i}", text=text, rank=i) for i, text in enumerate(
        ["Bananas are yellow.", "Rollo was the first ruler of Normandy.", "Paris is large.", "Cats sleep.",
         "Normandy lies in France."])]
    chosen = [w.text for w in chosen_windows("Who was the first ruler of Normandy? Rollo", passages)]
    # the two that share its words, then the first of those that share none; in the passages' order
    assert chosen == ["Bananas are yellow.", "Rollo was the first ruler of Normandy.", "Normandy lies in France."]


def test_evidence_is_encoded_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys and values of a window are cached by its text: the same paragraph under another doc
    id, or for another claim, is not encoded again; past its size the cache drops the oldest."""
    encoder = shipped_encoder()  # shared by the process: its own cache is put back after the test
    cache = MemoryCache()
    monkeypatch.setattr(encoder, "cache", cache)
    text = "Rollo was the first ruler of Normandy. He agreed to swear fealty to King Charles III."
    judge = OfflineJudge(encoder, NAME)
    first = judge.judge("Rollo was the first ruler of Normandy.", [Passage(doc_id="a", text=text, rank=1)])
    assert cache.computed == 1
    again = judge.judge("Rollo was the first ruler of Normandy.", [Passage(doc_id="b", text=text, rank=1)])
    other = judge.judge("Rollo swore fealty to King Charles III.", [Passage(doc_id="c", text=text, rank=1)])
    assert cache.computed == 1 and len(other.claims) == 1
    assert again.claims[0].support == pytest.approx(first.claims[0].support, abs=1e-6)
    small = MemoryCache(limit=1)
    monkeypatch.setattr(encoder, "cache", small)
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
    squad = load_labels(ROOT / "suites/data/squad2/labels.jsonl.gz")
    files = {"squad2-held-out": [r for r in squad if r.source.split("/")[-1] not in TRAIN_ARTICLES],
             "attributionbench": load_labels(ROOT / "suites/data/attributionbench/dev.jsonl.gz")}
    judge = OfflineJudge(shipped_encoder(), NAME)
    assert {s["file"] for s in training["sample"]} == set(files) and len(training["sample"]) == 30
    for sample in training["sample"]:
        row = files[sample["file"]][sample["row"]]
        verdict = judge.judge(row.answer, row.passages(), row.question)
        assert [c.support for c in verdict.claims] == pytest.approx(sample["support"], abs=1e-4)
    record = json.loads(shipped_file(f"{NAME}.json").read_text(encoding="utf-8"))
    assert "cross-validation" in record["method"] and record["n"] == 1198
    assert set(record["held_out"]) == {"squad2"}


def test_a_suite_names_the_cross_encoder_judge(tmp_path: Path) -> None:
    """`judge: {kind: offline, features: cross-encoder}` builds offline-v6; `evalkit calibrate
    --features cross-encoder` measures it."""
    import gzip

    from evalkit.judges.factory import build_judge
    from evalkit.judges.spec import OfflineJudgeSpec
    from evalkit.models.endpoints import CacheSettings
    from tests.conftest import evalkit

    judge = build_judge(OfflineJudgeSpec(features="cross-encoder"), CacheSettings(tmp_path))
    assert judge.name == NAME and OfflineJudgeSpec(features="cross-encoder").judge_name == NAME
    with gzip.open(ROOT / "suites/data/squad2/labels.jsonl.gz", "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    chosen = [r for r in rows if r["label"] == 1][:4] + [r for r in rows if r["label"] == 0][:4]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    result = evalkit("calibrate", "labels.jsonl", "--features", "cross-encoder", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["judge"] == NAME
