"""The `rag` candidate: retrieve passages from the suite's corpus, then generate an answer."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.candidates.base import BuildContext, Candidate, CandidateConfig, Output, Passage, candidate_kinds
from evalkit.candidates.chat import ChatSpec, Generator
from evalkit.candidates.extractive import ExtractiveGenerator

if TYPE_CHECKING:
    from evalkit.core.records import Case
    from evalkit.retrieval.indexes import Index


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkingSpec(_Spec):
    chunk_size: int = Field(default=512, ge=32, description="tokens per chunk")
    chunk_overlap: int = Field(default=32, ge=0)  # tokens shared by consecutive chunks


class RetrieverSpec(_Spec):
    # bm25 (words), dense (MiniLM embeddings) or hybrid (both, fused by rank)
    kind: Literal["bm25", "dense", "hybrid"] = "bm25"
    top_k: int = Field(default=10, ge=1, le=1000, description="distinct documents to retrieve")
    model: str = Field(default="all-MiniLM-L6-v2", description="dense: the local embedding model")
    # the model's own limit: on SciFact's test claims nDCG@10 0.647, against 0.626 with 128 (MTEB: 0.645);
    # 128 embeds in about half the time
    max_tokens: int = Field(default=256, ge=16, le=512, description="dense: tokens embedded per chunk")
    rrf_k: int = Field(default=60, ge=1, description="hybrid: reciprocal rank fusion constant")
    current_only: bool = Field(default=False, description="keep only documents current at the suite's as_of date")


class ExtractiveSpec(_Spec):
    kind: Literal["extractive"] = "extractive"
    max_sentences: int = Field(default=2, ge=1, le=20)  # sentences quoted as the answer, the most relevant first
    max_passages: int = Field(default=3, ge=1, description="passages the answer may draw from")


GeneratorSpec = Annotated[ExtractiveSpec | ChatSpec, Field(discriminator="kind")]


@candidate_kinds.register("rag")
class RagConfig(CandidateConfig):
    kind: Literal["rag"] = "rag"
    retriever: RetrieverSpec = RetrieverSpec()  # how passages are found
    chunking: ChunkingSpec = ChunkingSpec()  # how documents are cut into passages
    # what writes the answer from the passages: extractive (quotes, no model) or chat
    generator: GeneratorSpec = ExtractiveSpec()

    def needs_corpus(self) -> bool:
        return True

    def reproducible(self) -> bool:
        return True  # a model's replies are cached by request too; --refresh recomputes both

    def endpoint(self) -> ChatSpec | None:
        return self.generator if isinstance(self.generator, ChatSpec) else None

    def missing_credentials(self) -> str | None:
        return self.generator.missing_key() if isinstance(self.generator, ChatSpec) else None

    def build(self, context: BuildContext) -> Candidate:
        return RagCandidate(self, context)


class RagCandidate:
    def __init__(self, config: RagConfig, context: BuildContext):
        self.name = config.name
        self.config = config
        self._context = context
        self._index: Index | None = None
        self._hits: dict[str, list[Passage]] = {}
        self._retrieval_latency = 0.0
        spec = config.generator
        self._extractive = (ExtractiveGenerator(spec.max_sentences, spec.max_passages)
                            if isinstance(spec, ExtractiveSpec) else None)
        self._chat = Generator(spec, context) if isinstance(spec, ChatSpec) else None
        self.stats = self._chat.stats if self._chat else None

    async def prepare(self, cases: list[Case]) -> None:
        """Build or load the index, then retrieve for all cases in one batch (one embedding pass)."""
        await asyncio.to_thread(self._prepare, cases)
        if self._chat is not None:
            await self._chat.prepare()

    def _prepare(self, cases: list[Case]) -> None:
        from evalkit.retrieval.indexes import build_index

        assert self._context.corpus is not None
        retriever, chunking = self.config.retriever, self.config.chunking
        settings = {**retriever.model_dump(), **chunking.model_dump()}
        self._index = build_index(self._context.corpus, settings, self._context.cache_dir / "indexes",
                                  self._context.shared)
        started = time.perf_counter()
        questions = [case.question for case in cases]
        results = self._index.search(questions, retriever.top_k * 4)
        per_case = (time.perf_counter() - started) / max(1, len(cases))
        for case, hits in zip(cases, results, strict=True):
            self._hits[case.id] = self._passages(hits, retriever.top_k)
        self._retrieval_latency = per_case

    def _passages(self, hits: list[tuple[int, float]], top_k: int) -> list[Passage]:
        """Chunks in rank order, stopping before the (top_k + 1)-th distinct document."""
        assert self._index is not None
        passages: list[Passage] = []
        documents: set[str] = set()
        corpus, day = self._context.corpus, self._context.as_of
        for position, score in hits:
            chunk = self._index.chunks[position]
            if self.config.retriever.current_only and corpus is not None and day is not None and \
                    corpus.valid_at(chunk.doc_id, day) is False:
                continue  # outdated or replaced at the suite's date
            if chunk.doc_id not in documents and len(documents) == top_k:
                break
            documents.add(chunk.doc_id)
            passages.append(Passage(doc_id=chunk.doc_id, text=chunk.text, rank=len(passages) + 1, score=score,
                                    node_id=chunk.node_id))
        return passages

    async def answer(self, case: Case) -> Output:
        passages = self._hits[case.id]  # retrieved in prepare()
        if self._chat is not None:
            output = await self._chat.generate(case, passages)
            return output.model_copy(update={"latency_s": output.latency_s + self._retrieval_latency})
        assert self._extractive is not None
        started = time.perf_counter()
        answer, citations = self._extractive.generate(case.question, passages)
        return Output(answer=answer, passages=passages, citations=citations, extractive=True,
                      latency_s=time.perf_counter() - started + self._retrieval_latency)
