from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evalkit.config.corpus import load_corpus
from evalkit.core.errors import EvalkitError

ROWS = [{"id": 1, "title": "A", "text": "alpha"}, {"id": "2", "title": "B", "text": "beta"}]


def test_formats_give_the_same_corpus(tmp_path: Path) -> None:
    import pandas as pd

    lines = "".join(json.dumps(r) + "\n" for r in ROWS)
    (tmp_path / "c.jsonl").write_text(lines)
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as handle:
        handle.write(lines)
    pd.DataFrame(ROWS).astype(str).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame(ROWS).astype(str).to_parquet(tmp_path / "c.parquet")
    corpora = [load_corpus(tmp_path / name) for name in ("c.jsonl", "c.jsonl.gz", "c.csv", "c.parquet")]
    assert all(c.documents == corpora[0].documents for c in corpora)
    assert {c.content_hash for c in corpora} == {corpora[0].content_hash}
    assert list(corpora[0].documents) == ["1", "2"]


def test_folder_ids_are_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "docs" / "faq").mkdir(parents=True)
    (tmp_path / "docs" / "faq" / "billing.md").write_text("# Billing\nPay monthly.")
    (tmp_path / "docs" / "intro.txt").write_text("Hello.")
    (tmp_path / "docs" / "image.png").write_bytes(b"\x89PNG")
    corpus = load_corpus(tmp_path / "docs")
    assert sorted(corpus.documents) == ["faq/billing.md", "intro.txt"]


def test_content_hash_changes_with_text(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({**ROWS[0], "text": "alpha!"}) + "\n")
    assert load_corpus(tmp_path / "a.jsonl").content_hash != load_corpus(tmp_path / "b.jsonl").content_hash


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "1", "text": "x"}\n{"id": "1", "text": "y"}\n', "c.jsonl:2: duplicate document id '1' (first on line 1)"),
    ('{"id": "1"}\n', "c.jsonl:1: missing field 'text' (hint: fields found: id)"),
    ('[1, 2]\n', "c.jsonl:1: expected a JSON object, got list"),
    ("", "c.jsonl: the corpus has no documents"),
])
def test_bad_corpus(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "c.jsonl").write_text(content)
    with pytest.raises(EvalkitError) as info:
        load_corpus(tmp_path / "c.jsonl")
    assert str(info.value) == f"{tmp_path}/{message}"


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.csv"])
def test_bytes_that_are_not_utf8_are_reported_at_their_line(tmp_path: Path, name: str) -> None:
    if name == "c.csv":
        data = "id,text\n1,fine\n2,caf\xe9 au lait\n".encode("latin-1")
    else:
        data = (json.dumps(ROWS[0]) + "\n" + '{"id": 2, "text": "caf\xe9"}\n').encode("latin-1")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(tmp_path / name, "wb") as handle:
        handle.write(data)
    line = 3 if name == "c.csv" else 2
    with pytest.raises(EvalkitError) as info:
        load_corpus(tmp_path / name)
    assert str(info.value).startswith(f"{tmp_path / name}:{line}: not UTF-8 text (byte 0xe9 at column ")
    assert str(info.value).endswith("(hint: save the file as UTF-8)")


def test_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in ROWS).encode())
    assert list(load_corpus(tmp_path / "c.jsonl").documents) == ["1", "2"]
