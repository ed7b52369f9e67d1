"""How a suite names a model behind an OpenAI-compatible endpoint (light: no client imports)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from evalkit.core.cache import file_sha256
from evalkit.core.errors import EvalkitError
from evalkit.models.local_models import is_local, missing_extra

# USD per million tokens (input, output); a suite's `price:` overrides these.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "ft:gpt-4o-mini": (0.30, 1.20),
    "ft:gpt-4.1-mini": (0.80, 3.20),
    "gpt-4o-2024-05-13": (5.00, 15.00),  # the first gpt-4o snapshot kept its launch price
}
_SNAPSHOT_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _variable_name(value: str) -> str:
    # a key pasted in its place would be recorded with the run's parameters; never echo it back
    if not _VARIABLE_NAME.match(value):
        raise ValueError("this takes the name of an environment variable (like OPENAI_API_KEY), not the key "
                         "itself; export the key under that name")
    return value


EnvVarName = Annotated[str, AfterValidator(_variable_name)]  # where a suite names the variable holding a secret


@dataclass(frozen=True)
class CacheSettings:
    """How a run uses the model-response cache: its folder (None with --no-cache), and --refresh."""

    folder: Path | None
    refresh: bool = False


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")


class NotGGUF(ValueError):
    """An adapter file that is not in llama.cpp's GGUF format."""


class Adapter(BaseModel):
    """A LoRA adapter in llama.cpp's GGUF format, applied to a local model by its server.

    A suite names it by path (relative to the suite); the suite loader reads the file and fills in
    its sha256. The hash, not the path, is what makes the adapter part of the candidate's config,
    its cache keys and the run manifest: a retrained adapter is a new candidate. A suite may pin
    the hash (`adapter: {path: ..., sha256: ...}`), and then a different file is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str  # the GGUF adapter file, relative to the suite
    # pins the file: a different one is refused (filled in from the file when empty)
    sha256: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    file: Path | None = Field(default=None, exclude=True)  # the resolved path, filled in with the hash

    @classmethod
    def read(cls, path: str, suite_dir: Path, pinned: str = "") -> Adapter:
        """The adapter at `path` with its file's hash; OSError if it cannot be read, ValueError if
        its hash is not the pinned one."""
        file = (suite_dir / path).resolve()
        with file.open("rb") as head:
            if head.read(4) != b"GGUF":  # llama.cpp would refuse it at start-up, after the run began
                raise NotGGUF(f"{path} is not a GGUF file (a llama.cpp LoRA adapter starts with 'GGUF')")
        digest = file_sha256(file)
        if pinned and pinned != digest:
            raise ValueError(f"the adapter file's sha256 is {digest[:12]}…, and the suite pins {pinned[:12]}…")
        return cls(path=path, sha256=digest, file=file)

    def checked_file(self) -> Path:
        """The file to serve, still the one whose hash the run records."""
        if self.file is None or not self.sha256:
            raise EvalkitError(f"the adapter {self.path} was not read by a suite loader", hint="load the suite first")
        if file_sha256(self.file) != self.sha256:
            raise EvalkitError(f"the adapter {self.file} changed after the suite was loaded",
                               hint="run again: the run records the adapter it serves")
        return self.file


class EndpointSpec(BaseModel):
    """A model behind an OpenAI-compatible endpoint, as written in a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str  # the model's name at the endpoint, or local:<name> for a shipped local model
    base_url: str | None = None  # None: the OpenAI API
    # the name of the variable holding the key, never the key itself; null for a server that takes
    # no key (a local vLLM, Ollama or llama.cpp server)
    api_key_env: EnvVarName | None = "OPENAI_API_KEY"
    temperature: float = 0.0  # sampling temperature (0: greedy, for reproducible runs)
    max_tokens: int | None = None  # cap on tokens generated per answer; null: the server's
    timeout_s: float = Field(default=60.0, gt=0)  # seconds per call
    max_retries: int = Field(default=4, ge=0)  # retries of a failed call, with backoff
    concurrency: int = Field(default=8, ge=1, description="calls in flight at once to this endpoint")
    price: Price | None = None  # USD per million tokens, to count cost and enforce budgets
    # False: the server's chat template has no system role (it would drop the system message), so the
    # system text goes at the start of the first user turn; None: True, except for local models without one
    system_role: bool | None = None
    # a LoRA adapter the local model's server applies (local: models only)
    adapter: Adapter | None = None

    @field_validator("adapter", mode="before")
    @classmethod
    def _adapter_path(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @property
    def label(self) -> str:
        """How results name this model, e.g. `gpt-4o-mini@openai` (never includes the key)."""
        if self.local:
            return f"{self.model}+lora@{self.adapter.sha256[:8]}" if self.adapter else self.model
        return f"{self.model}@{self.base_url or 'openai'}"

    def missing_key(self) -> str | None:
        if self.local:
            return missing_extra(self.model)
        if self.api_key_env is None or os.environ.get(self.api_key_env):
            return None
        return f"{self.api_key_env} is not set"

    def api_key(self) -> str:
        """The key from the environment; a placeholder for a server that takes none (the openai
        client refuses to start without one, and such servers ignore it)."""
        return os.environ.get(self.api_key_env, "") if self.api_key_env and not self.local else "no-key"

    @model_validator(mode="after")
    def _local_has_no_url(self) -> EndpointSpec:
        if self.local and self.base_url is not None:
            raise ValueError("a local: model is served by evalkit itself; remove base_url (or, for a server of "
                             "your own, name its model without local:)")
        if self.adapter is not None and not self.local:
            raise ValueError("adapter: is applied by the server evalkit runs for a local: model; a server of your "
                             "own loads its adapters itself")
        return self

    @property
    def local(self) -> bool:
        """A model evalkit runs itself (`local:<name>`): it costs no money per call."""
        return is_local(self.model)

    def prices(self) -> tuple[float, float] | None:
        if self.price is not None:
            return self.price.input, self.price.output
        if self.local:
            return 0.0, 0.0
        # fine-tuned models are named ft:<base model>:<org>::<id> and priced by their base; a dated
        # snapshot (gpt-4o-mini-2024-07-18, the base of every fine-tune) is priced as its model
        # unless the table lists it
        name = "ft:" + self.model.split(":")[1] if self.model.startswith("ft:") else self.model
        return PRICES.get(name) or PRICES.get(_SNAPSHOT_DATE.sub("", name))

    def cost(self, usage: dict[str, int]) -> float | None:
        """USD for a call's token usage at this model's price; None when the model has no known price."""
        prices = self.prices()
        if prices is None:
            return None
        return (usage.get("prompt_tokens", 0) * prices[0] + usage.get("completion_tokens", 0) * prices[1]) / 1e6
