"""`adapter:` on a local model: read and hashed by the suite loader, so the file's sha256 (not its
path) is part of the candidate's config, its cache keys and the run manifest; a missing, changed
or misplaced adapter is a one-line suite error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evalkit.config.suite import load_suite
from evalkit.models.local_models import cache_scope
from tests.unit.config.test_suite import error_of, write

SUITE = """name: tuned
cases:
  - {id: q1, question: What reduces fever, expected_answer: Aspirin}
candidates:
  - name: tuned
    kind: model
    model: local:gemma3-270m
    api: completion
    n_examples: 0
    adapter: ADAPTER
metrics: [token_f1]
"""


def suite_with(adapter: str) -> str:
    return SUITE.replace("ADAPTER", adapter)


def test_the_adapter_file_is_hashed_into_the_config_and_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "lora.gguf").write_bytes(b"GGUF first")
    first = load_suite(write(tmp_path, suite_with("lora.gguf"))).candidates[0]
    assert first.adapter.sha256 == hashlib.sha256(b"GGUF first").hexdigest()  # type: ignore[attr-defined]
    assert first.served_by()["adapter"] == {"path": "lora.gguf", "sha256": first.adapter.sha256}  # type: ignore[attr-defined]
    assert first.flat_params()["adapter.path"] == "lora.gguf" and "adapter.file" not in first.flat_params()
    (tmp_path / "lora.gguf").write_bytes(b"GGUF retrained")
    second = load_suite(write(tmp_path, suite_with("lora.gguf"))).candidates[0]
    assert second.config_hash() != first.config_hash()  # a retrained adapter is a new candidate


def test_cache_keys_name_the_adapter() -> None:
    base = cache_scope("local:gemma3-270m")
    assert base == "local:gemma3-270m@a5fd3b62230aa5ec"
    assert cache_scope("local:gemma3-270m", "9c" * 32) == base + "+lora@9c9c9c9c9c9c9c9c"


def test_a_generator_adapter_is_read_too(tmp_path: Path) -> None:
    (tmp_path / "lora.gguf").write_bytes(b"GGUF")
    suite = ("name: rag\ncorpus: {path: corpus.jsonl}\ncases:\n  - {id: q1, question: What reduces fever}\n"
             "candidates:\n  - name: rag\n    kind: rag\n    generator: {kind: chat, model: local:gemma3-270m, "
             "api: completion, n_examples: 0, adapter: lora.gguf}\nmetrics: [faithfulness]\n")
    candidate = load_suite(write(tmp_path, suite)).candidates[0]
    assert candidate.endpoint().adapter.sha256 == hashlib.sha256(b"GGUF").hexdigest()  # type: ignore[union-attr]


@pytest.mark.parametrize(("adapter", "expected"), [
    ("missing.gguf", "suite.yaml:10: candidates[0].adapter: cannot read the adapter file: No such file or directory"
                     " (hint: paths in a suite are relative to the suite file)"),
    ("{path: lora.gguf, sha256: " + "ab" * 32 + "}",
     "suite.yaml:10: candidates[0].adapter: the adapter file's sha256 is b83633aa7853…, and the suite pins "
     "abababababab… (hint: retrain it with its recipe, or pin the new file's sha256)"),
])
def test_a_missing_or_different_adapter_is_a_suite_error(tmp_path: Path, adapter: str, expected: str) -> None:
    (tmp_path / "lora.gguf").write_bytes(b"GGUF")
    assert error_of(tmp_path, suite_with(adapter)) == expected


def test_an_adapter_that_is_not_gguf_is_a_suite_error(tmp_path: Path) -> None:
    (tmp_path / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00{}")  # peft's own format
    assert error_of(tmp_path, suite_with("adapter_model.safetensors")) == (
        "suite.yaml:10: candidates[0].adapter: adapter_model.safetensors is not a GGUF file (a llama.cpp LoRA "
        "adapter starts with 'GGUF') (hint: write a peft adapter in llama.cpp's format (suites/data/finetune.py "
        "does; llama.cpp's convert_lora_to_gguf.py too))")


def test_an_adapter_is_only_for_models_evalkit_serves(tmp_path: Path) -> None:
    (tmp_path / "lora.gguf").write_bytes(b"GGUF")
    text = suite_with("lora.gguf").replace("local:gemma3-270m", "gpt-4o-mini")
    assert "adapter: is applied by the server evalkit runs for a local: model" in error_of(tmp_path, text)


def test_a_model_judge_on_a_local_model_reads_its_adapter_too(tmp_path: Path) -> None:
    (tmp_path / "lora.gguf").write_bytes(b"GGUF")
    text = suite_with("lora.gguf") + "judge: {kind: model, model: local:gemma3-270m, adapter: lora.gguf}\n"
    judge = load_suite(write(tmp_path, text)).spec.judge
    assert judge.adapter.sha256 == hashlib.sha256(b"GGUF").hexdigest()  # type: ignore[union-attr]
