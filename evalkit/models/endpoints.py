"""How a suite names a model behind an OpenAI-compatible endpoint (light: no client imports)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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


class EndpointSpec(BaseModel):
    """A model behind an OpenAI-compatible endpoint, as written in a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str
    base_url: str | None = None  # None: the OpenAI API
    # the name of the variable holding the key, never the key itself; null for a server that takes
    # no key (a local vLLM, Ollama or llama.cpp server)
    api_key_env: EnvVarName | None = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    concurrency: int = Field(default=8, ge=1, description="calls in flight at once to this endpoint")
    price: Price | None = None
    # False: the server's chat template has no system role (it would drop the system message), so the
    # system text goes at the start of the first user turn; None: True, except for local models without one
    system_role: bool | None = None

    @property
    def label(self) -> str:
        """How results name this model, e.g. `gpt-4o-mini@openai` (never includes the key)."""
        return self.model if self.local else f"{self.model}@{self.base_url or 'openai'}"

    def missing_key(self) -> str | None:
        if self.local:
            from evalkit.models.local import missing_extra

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
        if self.model.startswith("local:") and self.base_url is not None:
            raise ValueError("a local: model is served by evalkit itself; remove base_url (or, for a server of "
                             "your own, name its model without local:)")
        return self

    @property
    def local(self) -> bool:
        """A model evalkit runs itself (`local:<name>`): it costs no money per call."""
        return self.model.startswith("local:")

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
