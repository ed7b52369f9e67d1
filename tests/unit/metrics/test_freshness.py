"""Freshness: dated documents, stale answers, and the shipped SituatedQA suite end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from evalkit.config.corpus import load_corpus
from evalkit.core.corpus import Corpus, Document
from evalkit.core.errors import EvalkitError
from evalkit.metrics.freshness import is_stale, superseded_share

D = dt.date
CORPUS = Corpus.of([
    Document("old", "x", valid_from=D(1990, 1, 1), valid_to=D(2017, 12, 31), superseded_by="new"),
    Document("new", "y", valid_from=D(2018, 1, 1)),
    Document("future", "z", valid_from=D(2030, 1, 1)),
    Document("undated", "w"),
    Document("replaced", "v", superseded_by="undated"),  # replaced by a document with no dates: always
])


@pytest.mark.parametrize(("doc", "day", "valid"), [
    ("old", D(2000, 6, 1), True), ("old", D(2019, 1, 1), False), ("new", D(2017, 6, 1), False),
    ("new", D(2021, 1, 1), True), ("future", D(2021, 1, 1), False), ("undated", D(2021, 1, 1), True),
    ("replaced", D(1900, 1, 1), False), ("missing", D(2021, 1, 1), None),
])
def test_valid_at(doc: str, day: dt.date, valid: bool | None) -> None:
    assert CORPUS.valid_at(doc, day) is valid


def test_superseded_share() -> None:
    assert superseded_share(["new", "old", "undated", "future"], CORPUS, D(2021, 1, 1)) == 0.5
    assert superseded_share(["missing"], CORPUS, D(2021, 1, 1)) is None  # unknown ids do not count
    assert superseded_share([], CORPUS, D(2021, 1, 1)) is None


@pytest.mark.parametrize(("answer", "stale"), [
    ("England last reached it in 1990.", True),
    ("In 2018 [d2], and before that in 1990.", False),  # gives the current answer too
    ("2018.", False),
    ("In 19901.", False),  # words, not characters
    ("The Duchy of Ray Romano.", True),
])
def test_is_stale(answer: str, stale: bool) -> None:
    assert is_stale(answer, "2018", ["1990", "Ray Romano"]) is stale


def test_document_dates_are_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "a", "text": "t", "valid_from": "2018", "valid_to": "2019-06-30",
                                                  "superseded_by": "b"}) + "\n" + json.dumps({"id": "b", "text": "u"}) + "\n")
    corpus = load_corpus(tmp_path / "c.jsonl")
    assert corpus.documents["a"].valid_from == D(2018, 1, 1) and corpus.documents["a"].valid_to == D(2019, 6, 30)
    undated = load_corpus(tmp_path / "c.jsonl").documents["b"]
    assert not undated.dated
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "a", "text": "t", "valid_from": "last spring"}) + "\n")
    with pytest.raises(EvalkitError) as info:
        load_corpus(tmp_path / "bad.jsonl")
    assert str(info.value) == (f"{tmp_path / 'bad.jsonl'}:1: valid_from is not a date: 'last spring' (hint: write an "
                               "ISO date like 2018-06-30, or a year)")


def test_undated_corpora_keep_their_content_hash() -> None:
    assert Corpus.of([Document("a", "t")]).content_hash == Corpus.of([Document("a", "t")]).content_hash
    assert Corpus.of([Document("a", "t")]).content_hash != Corpus.of([Document("a", "t", valid_to=D(2020, 1, 1))]
                                                                      ).content_hash


