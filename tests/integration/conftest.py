"""Fixtures for the end-to-end tests: one real CLI run on a SciFact slice, shared by the tests that read it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import evalkit

__all__ = ["evalkit"]


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, scifact_slice) -> tuple[Path, subprocess.CompletedProcess[str]]:
    from tests.conftest import write_jsonl

    work = tmp_path_factory.mktemp("e2e")
    cases, documents = scifact_slice
    write_jsonl(work / "corpus.jsonl", documents)
    write_jsonl(work / "cases.jsonl", cases)
    (work / "mini.yaml").write_text(
        "name: mini\ncorpus: {path: corpus.jsonl}\ncases: {path: cases.jsonl}\n"
        "candidates:\n  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: 5}}\n"
        "  - {name: hybrid, kind: rag, retriever: {kind: hybrid, top_k: 5}}\n"
        "metrics: [hit_rate@5, recall@5, mrr, ndcg@5, context_recall_ids, faithfulness]\n"
        "gates:\n  - {metric: recall@5, min: 0.5}\n"
    )
    result = evalkit("run", "mini.yaml", cwd=work)
    return work, result


