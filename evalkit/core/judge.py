"""The Judge interface: every judge kind (offline, model, ragas) returns a verdict per claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from evalkit.core.records import Passage


@dataclass
class ClaimVerdict:
    claim: str
    supported: bool
    support: float  # strength of the best support found, 0..1 (a model judge's verdict: 0 or 1)
    doc_id: str | None = None  # the passage's document that supports the claim (or comes closest)
    evidence: str | None = None  # the supporting sentence
    reason: str = ""  # why a claim failed, e.g. "number 12 not in the evidence", or the judge's reason
    failed_check: str | None = None  # "number", "name" or "negation" when a hard check failed


@dataclass
class FaithfulnessVerdict:
    score: float  # supported claims / claims; NaN when the answer has no claim to judge
    claims: list[ClaimVerdict] = field(default_factory=list)


class Judge(Protocol):
    name: str  # recorded beside every judged score, e.g. "offline-v2" or "gpt-4o-mini@https://..."
    kind: str  # "offline" | "model" | "ragas"
    stats: Any  # CallStats of a model judge's calls; None for the offline judge

    async def faithfulness(self, question: str, answer: str, passages: list[Passage]) -> FaithfulnessVerdict: ...
