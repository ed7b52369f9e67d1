"""The offline faithfulness judge: deterministic, CPU-only, no network.

Each claim (sentence) of the answer is measured against the sentences of the retrieved passages
(evalkit.judges.features) and a logistic model learned from human labels (AttributionBench dev,
docs/calibration.md) turns the measures into the probability that the evidence supports it. A
claim is supported when that probability reaches the threshold and its numbers and names appear
in the evidence and its negation agrees with its best support. faithfulness = supported claims / claims.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalkit.core.judge import ClaimVerdict, FaithfulnessVerdict
from evalkit.core.text import sentences, strip_citations, words
from evalkit.judges.features import FEATURES, Evidence, Terms, claim_features, terms
from evalkit.judges.spec import OFFLINE_NAME

if TYPE_CHECKING:
    from evalkit.core.records import Passage

NAME = OFFLINE_NAME
# a negation is compared only with a support that says nearly the same thing; a sentence sharing
# fewer words may negate something else ("not X, but Y")
NEGATION_COVERAGE = 0.7


@dataclass(frozen=True)
class Weights:
    """A standardised logistic model over FEATURES, as fitted by evalkit.judges.learn."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5

    def probability(self, values: list[float]) -> float:
        z = self.intercept + sum(c * (v - m) / s for c, v, m, s in
                                 zip(self.coef, values, self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def as_dict(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Weights:
        if tuple(data["features"]) != FEATURES:
            raise ValueError("the weights were fitted on other features; refit with evalkit.judges.learn")
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]),
                   float(data["threshold"]))


@lru_cache(maxsize=1)
def shipped_weights() -> Weights:
    from evalkit.judges.calibration import shipped_file

    return Weights.from_dict(json.loads(shipped_file(f"{NAME}.weights.json").read_text(encoding="utf-8")))


@dataclass
class OfflineJudge:
    weights: Weights = field(default_factory=shipped_weights)
    name: str = NAME

    kind = "offline"
    stats = None  # makes no model calls

    async def faithfulness(self, question: str, answer: str, passages: list[Passage]) -> FaithfulnessVerdict:
        return self.judge(answer, passages, question)

    def judge(self, answer: str, passages: list[Passage], question: str = "") -> FaithfulnessVerdict:
        claims = [c for c in sentences(strip_citations(answer)) if words(c)]
        if not claims:
            return FaithfulnessVerdict(float("nan"), [])  # nothing to judge, as with ragas
        evidence, asked = Evidence(passages), terms(question)
        verdicts = [self._claim(claim, asked, evidence) for claim in claims]
        return FaithfulnessVerdict(sum(v.supported for v in verdicts) / len(verdicts), verdicts)

    def _claim(self, claim: str, asked: Terms, evidence: Evidence) -> ClaimVerdict:
        measured = claim_features(claim, asked, evidence)
        wanted = measured.claim
        if not wanted.stems:
            return ClaimVerdict(claim, True, 1.0, reason="no content words")
        if measured.best is None:
            return ClaimVerdict(claim, False, 0.0, reason="there is no evidence")
        probability = self.weights.probability(measured.values)
        doc_id, sentence = evidence.sentences[measured.best]
        best = evidence.terms[measured.best]
        coverage = measured.values[FEATURES.index("best_sentence_coverage")]
        reason, check = "", None
        if missing := sorted(wanted.numbers - evidence.numbers):
            reason, check = f"number {missing[0]} is not in the evidence", "number"
        elif unknown := sorted(wanted.names - evidence.pieces):
            reason, check = f"name '{unknown[0]}' is not in the evidence", "name"
        elif wanted.negated != best.negated and coverage >= NEGATION_COVERAGE:
            reason, check = "negation differs from the evidence", "negation"
        elif probability < self.weights.threshold:
            reason = (f"support {probability:.2f} is below {self.weights.threshold:.2f} "
                      f"(the best sentence has {coverage:.0%} of its content words)")
        return ClaimVerdict(claim, not reason, probability, doc_id, sentence, reason, check)


def closest_sentence(claim: str, passages: list[Passage]) -> tuple[str | None, str | None]:
    """(document id, sentence) of the passage sentence that covers most of the claim's content
    words: where a judge that reads all passages at once most likely found its support."""
    evidence = Evidence(passages)
    best = claim_features(claim, terms(""), evidence).best
    return evidence.sentences[best] if best is not None else (None, None)
