"""BM25, dense and hybrid (reciprocal rank fusion) search over chunks, built once and cached.

Each index answers `search(queries, n)` with, per query, a list of (chunk position, score) best
first. Indexes are cached under the cache folder keyed by corpus content, chunking and retriever
settings, so a second run neither re-tokenises nor re-embeds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol

from evalkit.core.cache import cached_dir, content_key
from evalkit.core.corpus import Corpus
from evalkit.retrieval.chunks import Chunk, chunk_corpus, load_chunks, save_chunks

Hits = list[tuple[int, float]]
_build_lock = threading.RLock()  # candidates may prepare in threads; one builds an index, the others wait


class Index(Protocol):
    chunks: list[Chunk]

    def search(self, queries: list[str], n: int) -> list[Hits]: ...


def _memoised(memo: dict[str, Any], key: str, make: Any) -> Any:
    with _build_lock:
        if key not in memo:
            memo[key] = make()
        return memo[key]


def load_or_build_chunks(corpus: Corpus, chunk_size: int, chunk_overlap: int,
                         cache: Path, memo: dict[str, Any]) -> tuple[list[Chunk], str]:
    """The corpus's chunks and their cache key (which the indexes built on them extend)."""
    key = content_key("chunks", corpus.content_hash, chunk_size, chunk_overlap)

    def build(folder: Path) -> None:
        save_chunks(chunk_corpus(corpus, chunk_size, chunk_overlap), folder / "chunks.jsonl")

    def make() -> list[Chunk]:
        folder, _ = cached_dir(cache / "chunks", key, build)
        return load_chunks(folder / "chunks.jsonl")

    chunks: list[Chunk] = _memoised(memo, key, make)
    return chunks, key


class Bm25Index:
    """llama-index's BM25Retriever (bm25s, English stemming and stopwords)."""

    def __init__(self, chunks: list[Chunk], cache: Path, chunks_key: str):
        self.chunks = chunks
        self._position = {chunk.node_id: i for i, chunk in enumerate(chunks)}
        key = content_key("bm25", chunks_key)
        folder, _ = cached_dir(cache / "bm25", key, self._build)
        from llama_index.retrievers.bm25 import BM25Retriever

        self._retriever = BM25Retriever.from_persist_dir(str(folder), show_progress=False)

    def _build(self, folder: Path) -> None:
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        nodes = [TextNode(id_=c.node_id, text=c.text) for c in self.chunks]
        # the index's own cutoff is never used (search() passes one per call): at most the corpus's size,
        # so llama-index does not warn about a small corpus
        top_k = min(10, len(nodes))
        BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=top_k).persist(str(folder), show_progress=False)

    def search(self, queries: list[str], n: int) -> list[Hits]:
        """What BM25Retriever.retrieve does, with the cutoff passed per call instead of set on the
        shared retriever, and the chunk position read straight from bm25s's corpus."""
        import bm25s
        import numpy as np

        retriever = self._retriever
        stemmer = None if retriever.skip_stemming else retriever.stemmer
        mask = np.array(retriever.corpus_weight_mask) if retriever.corpus_weight_mask else None
        k = min(n, len(self.chunks))
        results = []
        for query in queries:
            tokens = bm25s.tokenize(query, stemmer=stemmer, token_pattern=retriever.token_pattern,
                                    show_progress=False)
            found, scores = retriever.bm25.retrieve(tokens, k=k, show_progress=False, weight_mask=mask)
            results.append([(self._position[self._node_id(doc)], float(score))
                            for doc, score in zip(found[0], scores[0], strict=True)])
        return results

    def _node_id(self, doc: Any) -> str:
        return str(doc["node_id"] if isinstance(doc, dict) else self._retriever.corpus[int(doc)]["node_id"])


class DenseIndex:
    """Exact cosine search over MiniLM embeddings held in one numpy matrix."""

    def __init__(self, chunks: list[Chunk], cache: Path, chunks_key: str, model: str, max_tokens: int):
        import numpy as np

        self.chunks = chunks
        self.model = model
        self.max_tokens = max_tokens
        key = content_key("dense", chunks_key, model, max_tokens)
        folder, _ = cached_dir(cache / "dense", key, self._build)
        self._matrix = np.load(folder / "embeddings.npy")
        from evalkit.models.embeddings import load_model

        load_model(model)  # load now, so query latency does not include it

    def _encode(self, texts: list[str]) -> Any:
        from evalkit.models.embeddings import encode

        return encode(texts, self.model, max_tokens=self.max_tokens)

    def _build(self, folder: Path) -> None:
        import numpy as np

        np.save(folder / "embeddings.npy", self._encode([c.text for c in self.chunks]))
        (folder / "meta.json").write_text(json.dumps({"model": self.model, "count": len(self.chunks)}))

    def search(self, queries: list[str], n: int) -> list[Hits]:
        import numpy as np

        scores = self._encode(queries) @ self._matrix.T
        n = min(n, len(self.chunks))
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        results = []
        for row, candidates in zip(scores, top, strict=True):
            order = candidates[np.argsort(-row[candidates], kind="stable")]
            results.append([(int(i), float(row[i])) for i in order])
        return results


def reciprocal_rank_fusion(rankings: list[Hits], k: int = 60) -> Hits:
    """Fuse ranked lists: score(d) = Σ 1 / (k + rank of d in each list) (Cormack et al., 2009)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (position, _) in enumerate(ranking, start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


class HybridIndex:
    def __init__(self, bm25: Bm25Index, dense: DenseIndex, rrf_k: int, depth: int = 100):
        self.chunks = bm25.chunks
        self._parts = (bm25, dense)
        self._rrf_k = rrf_k
        self._depth = depth  # how deep each list goes into the fusion

    def search(self, queries: list[str], n: int) -> list[Hits]:
        depth = max(n, self._depth)
        lexical, semantic = (part.search(queries, depth) for part in self._parts)
        return [reciprocal_rank_fusion([a, b], self._rrf_k)[:n] for a, b in zip(lexical, semantic, strict=True)]


def build_index(corpus: Corpus, settings: dict[str, Any], cache: Path, memo: dict[str, Any]) -> Index:
    """The index for one retriever setting (kind, chunking, model), shared through `memo` by the
    candidates of one run that agree on it."""
    chunks, chunks_key = load_or_build_chunks(corpus, settings["chunk_size"], settings["chunk_overlap"], cache,
                                              memo)

    def bm25() -> Bm25Index:
        index: Bm25Index = _memoised(memo, content_key("bm25", chunks_key),
                                     lambda: Bm25Index(chunks, cache, chunks_key))
        return index

    def dense() -> DenseIndex:
        model, max_tokens = settings["model"], settings["max_tokens"]
        index: DenseIndex = _memoised(
            memo, content_key("dense", chunks_key, model, max_tokens),
            lambda: DenseIndex(chunks, cache, chunks_key, model, max_tokens),
        )
        return index

    kind = settings["kind"]
    if kind == "bm25":
        return bm25()
    if kind == "dense":
        return dense()
    return HybridIndex(bm25(), dense(), settings["rrf_k"])
