"""Documents with stable ids, and the corpus they form (loading lives in evalkit.config.corpus)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class Corpus:
    documents: dict[str, Document]
    content_hash: str  # sha256 of ids, titles and texts in load order: the key of cached indexes

    @classmethod
    def of(cls, documents: list[Document]) -> Corpus:
        digest = hashlib.sha256()
        for doc in documents:
            for part in (doc.id, doc.title, doc.text):
                digest.update(part.encode("utf-8"))
                digest.update(b"\0")
        return cls({doc.id: doc for doc in documents}, digest.hexdigest())

    def __len__(self) -> int:
        return len(self.documents)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.documents
