"""Documents with stable ids, and the corpus they form (loading lives in evalkit.config.corpus)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""
    # when the document was true: a document outside its dates, or replaced by another, is stale
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    superseded_by: str | None = None

    @property
    def dated(self) -> bool:
        return bool(self.valid_from or self.valid_to or self.superseded_by)


@dataclass(frozen=True)
class Corpus:
    documents: dict[str, Document]
    content_hash: str  # sha256 of ids, titles and texts in load order: the key of cached indexes

    @classmethod
    def of(cls, documents: list[Document]) -> Corpus:
        digest = hashlib.sha256()
        for doc in documents:
            parts = [doc.id, doc.title, doc.text]
            if doc.dated:  # (undated corpora keep the hash they always had)
                parts += [str(doc.valid_from), str(doc.valid_to), str(doc.superseded_by)]
            for part in parts:
                digest.update(part.encode("utf-8"))
                digest.update(b"\0")
        return cls({doc.id: doc for doc in documents}, digest.hexdigest())

    def valid_at(self, doc_id: str, day: dt.date) -> bool | None:
        """Whether a document was current on `day`: within its dates and not replaced by a document
        current then. None for an id the corpus does not have."""
        doc = self.documents.get(doc_id)
        if doc is None:
            return None
        if (doc.valid_from and day < doc.valid_from) or (doc.valid_to and day > doc.valid_to):
            return False
        successor = self.documents.get(doc.superseded_by) if doc.superseded_by else None
        if successor is not None:
            return not (successor.valid_from is None or successor.valid_from <= day)
        return doc.superseded_by is None

    def __len__(self) -> int:
        return len(self.documents)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.documents
