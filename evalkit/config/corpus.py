"""Corpora loaded from jsonl / jsonl.gz / csv / parquet or a folder of files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from evalkit.core.corpus import Corpus, Document
from evalkit.core.errors import EvalkitError
from evalkit.core.readers import read_records

FOLDER_SUFFIXES = (".md", ".txt")


def load_corpus(
    path: Path, *, id_field: str = "id", text_field: str = "text", title_field: str | None = "title"
) -> Corpus:
    """Load a corpus file, or a folder whose .md/.txt files become documents keyed by relative path."""
    if path.is_dir():
        return _load_folder(path)
    documents: list[Document] = []
    seen: dict[str, int] = {}
    for number, row in read_records(path):
        where = f"{path}:{number}"
        for field in (id_field, text_field):
            value = row.get(field)
            if value is None or (isinstance(value, float) and value != value):
                raise EvalkitError(
                    f"missing field '{field}'", where=where,
                    hint=f"fields found: {', '.join(map(str, row)) or 'none'}",
                )
        doc_id = str(row[id_field])
        if doc_id in seen:
            raise EvalkitError(f"duplicate document id '{doc_id}' (first on line {seen[doc_id]})", where=where)
        seen[doc_id] = number
        title = row.get(title_field) if title_field else None
        dates = {name: _date(row.get(name), where, name) for name in ("valid_from", "valid_to")}
        superseded = row.get("superseded_by")
        documents.append(Document(doc_id, str(row[text_field]), str(title) if title else "", **dates,
                                  superseded_by=str(superseded) if superseded else None))
    if not documents:
        raise EvalkitError("the corpus has no documents", where=str(path))
    return Corpus.of(documents)


def _date(value: Any, where: str, field: str) -> dt.date | None:
    """A document's date: an ISO date (2018-06-30) or a year (2018: its first day)."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    try:
        return dt.date(int(text), 1, 1) if text.isdigit() and len(text) == 4 else dt.date.fromisoformat(text)
    except ValueError:
        raise EvalkitError(f"{field} is not a date: {text!r}", where=where,
                           hint="write an ISO date like 2018-06-30, or a year") from None


def _load_folder(folder: Path) -> Corpus:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES)
    if not files:
        raise EvalkitError(
            "the corpus folder has no .md or .txt files", where=str(folder),
            hint="point corpus.path at a folder of documents or at a .jsonl/.csv/.parquet file",
        )
    documents = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise EvalkitError("not UTF-8 text", where=str(file)) from None
        documents.append(Document(file.relative_to(folder).as_posix(), text, file.stem))
    return Corpus.of(documents)
