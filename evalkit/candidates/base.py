"""What a candidate is: a config (validated from the suite) that builds something that answers cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from evalkit.core.cache import content_key
from evalkit.core.records import Case, Output, Passage
from evalkit.core.registry import Registry
from evalkit.models.endpoints import CacheSettings, EndpointSpec

if TYPE_CHECKING:
    from evalkit.core.corpus import Corpus

__all__ = ["BuildContext", "Candidate", "CandidateConfig", "Case", "Output", "Passage", "candidate_kinds"]


@dataclass(frozen=True)
class BuildContext:
    """What a candidate may need to build itself."""

    corpus: Corpus | None
    suite_dir: Path
    cache_dir: Path
    use_cache: bool = True  # model-call cache; False with --no-cache
    refresh: bool = False  # re-call models and overwrite their cache entries (--refresh)
    as_of: dt.date | None = None  # the suite's date: retrievers with current_only keep documents current then
    # what candidates of one run share and nothing outlives: indexes built once per setting
    shared: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def call_cache(self) -> CacheSettings:
        return CacheSettings(self.cache_dir / "llm" if self.use_cache else None, self.refresh)


class Candidate(Protocol):
    name: str
    stats: Any  # CallStats of its model calls, or None

    async def prepare(self, cases: list[Case]) -> None:
        """Build indexes and batch any work that is cheaper done for all cases at once."""

    async def answer(self, case: Case) -> Output: ...


class CandidateConfig(BaseModel):
    """Base of every candidate kind's config; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # unique within the suite: how results name the candidate
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)
    kind: str
    description: str = ""  # a line saying what it is, shown in reports

    def build(self, context: BuildContext) -> Candidate:
        raise NotImplementedError

    def needs_corpus(self) -> bool:
        return False

    def reproducible(self) -> bool:
        """True when the config alone decides the output (with the case, corpus and evalkit version),
        so a stored output can be replayed. False for code or files that may change under the same
        config (a python function, a recorded file)."""
        return False

    def retrieves(self) -> bool:
        """False for a candidate that never retrieves (closed book): retrieval metrics do not apply to it."""
        return True

    def problem(self, suite_dir: Path) -> str | None:
        """What makes this candidate impossible to run, found without running it (None: nothing)."""
        return None

    def missing_credentials(self) -> str | None:
        """Why this candidate cannot run here (e.g. an unset API key variable), or None."""
        return None

    def endpoint(self) -> EndpointSpec | None:
        """The model endpoint this candidate generates with, if any."""
        return None

    def served_by(self) -> dict[str, Any]:
        """For a model evalkit runs itself: the model file's sha256, its adapter's, the server and its settings."""
        from evalkit.models.local_models import describe

        spec = self.endpoint()
        if spec is None or not spec.local:
            return {}
        return describe(spec.model, spec.adapter.model_dump(mode="json") if spec.adapter else None)

    def flat_params(self) -> dict[str, Any]:
        """The config flattened to dotted keys, for MLflow params and result headers."""
        return _flatten(self.model_dump(mode="json", exclude={"description"}))

    def config_hash(self) -> str:
        """Content key of the resolved config (defaults filled in): what decides this candidate's outputs."""
        return content_key("candidate", self.model_dump(mode="json", exclude={"description"}))[:16]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


candidate_kinds: Registry[type[CandidateConfig]] = Registry(
    "candidate kind",
    "evalkit.candidates",
    builtins=("evalkit.candidates.rag", "evalkit.candidates.recorded", "evalkit.candidates.model",
              "evalkit.candidates.http", "evalkit.candidates.python"),
)
