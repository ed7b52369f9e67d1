"""The fine-tuned candidate on the real local model: llama.cpp's server applies the shipped LoRA
adapter (suites/data/squad2/finetune/adapter.gguf) to Gemma 3 270M (`nox -s local`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.local.test_local_model import SQUAD, run_cli, samples, servers

pytest.importorskip("xllamacpp", reason="needs the local extra: nox -s local")

FINETUNE = SQUAD / "finetune"
HELD_OUT = "[Computational_complexity_theory, Southern_California, Victoria_(Australia)]"


def write_suite(folder: Path, adapter: Path, cases: int = 5) -> Path:
    """RAG on the base model and on the fine-tuned one, with the same zero-shot prompt, retrieval
    and greedy decoding: only the adapter differs."""
    generator = "{kind: chat, model: local:gemma3-270m, api: completion, n_examples: 0"
    suite = folder / "finetuned.yaml"
    suite.write_text(
        f"name: finetuned\ncorpus: {{path: {SQUAD / 'corpus.jsonl'}}}\n"
        f"cases: {{path: {SQUAD / 'cases.jsonl'}, tags: {HELD_OUT}, limit: {cases}}}\n"
        "candidates:\n"
        f"  - {{name: rag-base, kind: rag, retriever: {{kind: bm25, top_k: 1}}, generator: {generator}}}}}\n"
        f"  - {{name: rag-finetuned, kind: rag, retriever: {{kind: bm25, top_k: 1}},\n"
        f"     generator: {generator}, adapter: {adapter}}}}}\n"
        "metrics: [token_f1, abstain_rate_unanswerable, citation_precision]\nmax_error_rate: 0.0\n")
    return suite


def test_rag_finetuned_is_served_with_its_adapter_and_the_manifest_records_its_sha256(tmp_path: Path,
                                                                                      cache: Path) -> None:
    trained = json.loads((FINETUNE / "training.json").read_text())
    process = run_cli(tmp_path, cache, str(write_suite(tmp_path, FINETUNE / "adapter.gguf")))
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    rows = samples(tmp_path)
    answers = {(r["candidate"], r["case_id"]): r["output"]["answer"].strip() for r in rows}
    cases = sorted({case for _, case in answers})
    assert len(cases) == 5 and all(r["output"]["error"] is None for r in rows)
    prompts = {r["case_id"]: set() for r in rows}
    for row in rows:
        prompts[row["case_id"]].add(row["output"]["prompt"])
    assert all(len(sent) == 1 for sent in prompts.values())  # the same prompt went to both servers
    differ = [case for case in cases if answers["rag-base", case] != answers["rag-finetuned", case]]
    assert len(differ) >= 3, answers
    # the adapter's trained format: a short answer with its [doc id], or the suite's decline phrase
    tuned = [answers["rag-finetuned", case] for case in cases]
    assert all(a == "The passages do not say." or a.endswith("]") for a in tuned), tuned
    [header] = (tmp_path / "reports").glob("*/*/header.json")
    served = {c["name"]: c["served_by"] for c in json.loads(header.read_text())["candidates"]}
    assert served["rag-finetuned"]["adapter"]["sha256"] == trained["adapter"]["sha256"]
    assert "adapter" not in served["rag-base"]
    assert servers(cache) == []  # both servers stopped with the run


def test_a_changed_adapter_is_a_changed_candidate_and_never_replays_the_old_replies(tmp_path: Path,
                                                                                   cache: Path) -> None:
    """The same suite, and the file at the adapter's path replaced by another adapter (the
    SituatedQA one): a new config hash and sha256, and answers computed anew, not replayed."""
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes((FINETUNE / "adapter.gguf").read_bytes())
    first = run_cli(tmp_path, cache, str(write_suite(tmp_path, adapter, cases=2)))
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    adapter.write_bytes((ROOT / "suites" / "data" / "situatedqa" / "finetune" / "adapter.gguf").read_bytes())
    second = run_cli(tmp_path, cache, str(write_suite(tmp_path, adapter, cases=2)))
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    runs = sorted((tmp_path / "reports").glob("*/*/header.json"), key=lambda path: path.stat().st_mtime)
    tuned = [next(c for c in json.loads(h.read_text())["candidates"] if c["name"] == "rag-finetuned") for h in runs]
    assert tuned[0]["config_hash"] != tuned[1]["config_hash"]
    assert tuned[0]["served_by"]["adapter"]["sha256"] != tuned[1]["served_by"]["adapter"]["sha256"]
    rows = [json.loads(line) for line in (runs[1].parent / "samples.jsonl").read_text().splitlines()]
    assert [r["cached"] for r in rows if r["candidate"] == "rag-finetuned"] == [False, False]
    assert all(r["cached"] for r in rows if r["candidate"] == "rag-base")  # the unchanged candidate is reused
