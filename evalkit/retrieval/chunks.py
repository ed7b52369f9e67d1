"""Chunk a corpus into passages with deterministic ids that keep their document id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evalkit.core.corpus import Corpus


@dataclass(frozen=True)
class Chunk:
    node_id: str  # "<doc id>#<n>": stable across runs and machines
    doc_id: str
    text: str


def chunk_corpus(corpus: Corpus, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split every document with llama-index's SentenceSplitter (token-sized, sentence-aware)."""
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import Document as LlamaDocument

    splitter = SentenceSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap,
        id_func=lambda i, doc: f"{doc.doc_id}#{i}",
    )
    documents = [
        LlamaDocument(text=f"{doc.title}\n{doc.text}" if doc.title else doc.text, doc_id=doc.id)
        for doc in corpus.documents.values()
    ]
    nodes = splitter.get_nodes_from_documents(documents)
    return [Chunk(node.node_id, node.ref_doc_id or node.node_id.rsplit("#", 1)[0], node.get_content())
            for node in nodes]


def save_chunks(chunks: list[Chunk], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps([chunk.node_id, chunk.doc_id, chunk.text], ensure_ascii=False) + "\n")


def load_chunks(path: Path) -> list[Chunk]:
    with open(path, encoding="utf-8") as handle:
        return [Chunk(*json.loads(line)) for line in handle]
