"""What a candidate is: a config (validated from the suite) that builds something that answers cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from evalkit.registry import Registry

if TYPE_CHECKING:
    from evalkit.corpus import Corpus
    from evalkit.suite import Case


@dataclass
class Passage:
    """One retrieved passage: the chunk text and the document it came from."""

    doc_id: str
    text: str
    rank: int  # 1-based rank among retrieved passages
    score: float | None = None
    node_id: str | None = None


@dataclass
class Output:
    """What a candidate produced for one case. `error` set means it produced nothing usable."""

    answer: str = ""
    passages: list[Passage] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)  # doc ids the answer cites
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    error: str | None = None

    @property
    def retrieved_ids(self) -> list[str]:
        """Document ids in rank order, each once (several chunks of one document count once)."""
        return list(dict.fromkeys(p.doc_id for p in self.passages))

    @property
    def contexts(self) -> list[str]:
        return [p.text for p in self.passages]


@dataclass(frozen=True)
class BuildContext:
    """What a candidate may need to build itself."""

    corpus: Corpus | None
    suite_dir: Path
    cache_dir: Path
    use_cache: bool = True  # model-call cache; False with --no-cache
    refresh: bool = False  # re-call models and overwrite their cache entries (--refresh)


class Candidate(Protocol):
    name: str
    stats: Any  # CallStats of its model calls, or None

    async def prepare(self, cases: list[Case]) -> None:
        """Build indexes and batch any work that is cheaper done for all cases at once."""

    async def answer(self, case: Case) -> Output: ...


class CandidateConfig(BaseModel):
    """Base of every candidate kind's config; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)
    kind: str
    description: str = ""

    def build(self, context: BuildContext) -> Candidate:
        raise NotImplementedError

    def needs_corpus(self) -> bool:
        return False

    def missing_credentials(self) -> str | None:
        """Why this candidate cannot run here (e.g. an unset API key variable), or None."""
        return None

    def params(self) -> dict[str, Any]:
        """The config flattened to dotted keys, for MLflow params and result headers."""
        return _flatten(self.model_dump(mode="json", exclude={"description"}))


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
