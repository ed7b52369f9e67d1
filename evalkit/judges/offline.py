"""The offline faithfulness judge: deterministic, CPU-only, no network.

Each claim (sentence) of the answer is measured against the sentences of the retrieved passages,
lexically (evalkit.judges.features); in offline-v4 also by meaning with static sentence embeddings
fitted to the local MiniLM (evalkit.judges.semantic); in offline-v7, the default, also by where the
claim stands in the evidence (evalkit.judges.span); in offline-v8 by both. A logistic model learned
from human labels (linear in offline-v2, with pairwise products in v4; one per answer shape in v7 and
v8, ByShape, chosen on the judge benchmark: docs/judge-benchmark.md) turns the measures into the probability that the
evidence supports the claim. A claim is
supported when that probability reaches the threshold, its numbers appear in the evidence, its
names in the evidence or the question, and its negation agrees with its best support.
faithfulness = supported claims / claims.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from evalkit.core.judge import ClaimVerdict, FaithfulnessVerdict
from evalkit.core.text import sentences, strip_citations, words
from evalkit.judges.features import FEATURES as LEXICAL_FEATURES
from evalkit.judges.features import ClaimFeatures, Evidence, Terms, claim_features, terms
from evalkit.judges.semantic import EMBEDDINGS, SEMANTIC_FEATURES, semantic_features
from evalkit.judges.span import SPAN_FEATURES, positions, span_features
from evalkit.judges.spec import OFFLINE_VERSIONS, shipped_file

if TYPE_CHECKING:
    from evalkit.core.records import Passage

NAME = OFFLINE_VERSIONS["lexical"]  # OfflineJudge() with no arguments: offline-v2
FEATURES = LEXICAL_FEATURES + SEMANTIC_FEATURES  # offline-v4's
SPAN = LEXICAL_FEATURES + SPAN_FEATURES  # offline-v7's
SPAN_SEMANTIC = LEXICAL_FEATURES + SEMANTIC_FEATURES + SPAN_FEATURES  # offline-v8's (measure's order)
FEATURE_SETS = (LEXICAL_FEATURES, FEATURES, SPAN, SPAN_SEMANTIC)
# a negation is compared only with a support that says nearly the same thing; a sentence sharing
# fewer words may negate something else ("not X, but Y")
NEGATION_COVERAGE = 0.7


@dataclass(frozen=True)
class Weights:
    """A logistic model over standardised features, as fitted by training.learn. With degree
    2 it also weighs their pairwise products: coef[:n] weigh the features, coef[n:] the products in
    itertools.combinations_with_replacement order (scikit-learn's PolynomialFeatures order)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    features: tuple[str, ...] = FEATURES
    degree: int = 2

    @property
    def semantic(self) -> bool:
        return SEMANTIC_FEATURES[0] in self.features

    @property
    def span(self) -> bool:
        return SPAN_FEATURES[0] in self.features

    def probability(self, values: list[float]) -> float:
        """In plain float64 arithmetic with an exactly rounded sum (math.fsum): no vector kernel whose
        order of additions depends on the CPU, so every machine gets the same bits."""
        z = [(v - m) / s for v, m, s in zip(values, self.mean, self.scale, strict=True)]
        terms = z if self.degree == 1 else z + [z[i] * z[j] for i in range(len(z)) for j in range(i, len(z))]
        logit = math.fsum([self.intercept, *(c * t for c, t in zip(self.coef, terms, strict=True))])
        return 1.0 / (1.0 + math.exp(-logit))

    def probabilities(self, measured: list[Measured], question: str, passages: list[Passage]) -> list[float]:
        return [self.probability(m.values) for m in measured]

    def as_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "degree": self.degree, "mean": list(self.mean),
                "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept,
                "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Weights:
        features, degree = tuple(data["features"]), int(data.get("degree", 1))
        if features not in FEATURE_SETS or degree not in (1, 2):
            raise ValueError("the weights were fitted on other features; refit with training.learn")
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]),
                   float(data["threshold"]), features, degree)


@dataclass(frozen=True)
class ByShape:
    """offline-v7's and v8's scorer: one logistic model for short answers (fewer than SHORT_CLAIM
    words, which mean something only with their question) and one for sentences, each over offline-v2's
    lexical measures and where the claim stands in the evidence (SPAN), and in v8 also the measures by
    meaning (SPAN_SEMANTIC). Each model's threshold, chosen on dev rows, is folded into its intercept,
    so a claim is supported at 0.5 whatever its shape."""

    short: Weights
    sentence: Weights
    threshold = 0.5

    span = True

    @property
    def semantic(self) -> bool:
        return self.short.semantic

    def probabilities(self, measured: list[Measured], question: str, passages: list[Passage]) -> list[float]:
        return [self.weights_for(m.values).probability(m.values) for m in measured]

    def weights_for(self, values: list[float]) -> Weights:
        return self.short if values[short_index(self.short.features)] else self.sentence

    def as_dict(self) -> dict[str, Any]:
        return {"shapes": {"short": self.short.as_dict(), "sentence": self.sentence.as_dict()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ByShape:
        return cls(Weights.from_dict(data["shapes"]["short"]), Weights.from_dict(data["shapes"]["sentence"]))


def short_index(features: tuple[str, ...]) -> int:
    """Where a claim's measures say whether it is a short answer (which of ByShape's models reads it)."""
    return features.index("short_claim")


@lru_cache(maxsize=4)
def shipped_weights(name: str = NAME) -> Weights:
    return Weights.from_dict(json.loads(shipped_file(f"{name}.weights.json").read_text(encoding="utf-8")))


@lru_cache(maxsize=2)
def shipped_by_shape(name: str) -> ByShape:
    return ByShape.from_dict(json.loads(shipped_file(f"{name}.weights.json").read_text(encoding="utf-8")))


@dataclass
class Measured:
    """One claim's measures: its FEATURES values and the best-covering sentence (lexically)."""

    claim: str
    lexical: ClaimFeatures
    values: list[float]


def claims_of(answer: str) -> list[str]:
    return [c for c in sentences(strip_citations(answer)) if words(c)]


def measure(claims: list[str], passages: list[Passage], question: str = "", semantic: bool = True,
            span: bool = False) -> tuple[Evidence, Terms, list[Measured]]:
    """Every claim measured against the passages (lexically, and by meaning if semantic, or by
    where it stands in the evidence if span): what the judge decides on, and what the weights are
    fitted to."""
    evidence, asked = Evidence(passages), terms(question)
    found = positions(evidence) if span else None
    if semantic:
        texts = [s for _, s in evidence.sentences]
        vectors = EMBEDDINGS.vectors([*claims, *([question] if question else []), *texts])
        question_vector = vectors[len(claims)] if question else None
        sentence_vectors = vectors[len(vectors) - len(texts):]
    measured = []
    for index, claim in enumerate(claims):
        lexical = claim_features(claim, asked, evidence)
        values = lexical.values
        if semantic:
            values = values + semantic_features(lexical.claim, vectors[index], asked, question_vector, evidence,
                                                sentence_vectors)
        if found is not None:
            values = values + span_features(lexical.claim, claim, asked, evidence, found)
        measured.append(Measured(claim, lexical, values))
    return evidence, asked, measured


class Scorer(Protocol):
    """What gives each claim its probability of being supported: learned weights over the measures
    (offline-v2, v4), or the trained cross-encoder (evalkit.judges.cross, offline-v6)."""

    @property
    def threshold(self) -> float: ...

    @property
    def semantic(self) -> bool: ...  # whether the measures include the embedding features

    @property
    def span(self) -> bool: ...  # whether they include where the claim stands in the evidence

    def probabilities(self, measured: list[Measured], question: str, passages: list[Passage]) -> list[float]: ...


@dataclass
class OfflineJudge:
    weights: Scorer = field(default_factory=shipped_weights)
    name: str = NAME  # offline-v2 here; v4 or v6: OfflineJudge(shipped_scorer(name), name)

    kind = "offline"
    stats = None  # makes no model calls

    async def faithfulness(self, question: str, answer: str, passages: list[Passage]) -> FaithfulnessVerdict:
        return self.judge(answer, passages, question)

    def judge(self, answer: str, passages: list[Passage], question: str = "") -> FaithfulnessVerdict:
        claims = claims_of(answer)
        if not claims:
            return FaithfulnessVerdict(float("nan"), [])  # nothing to judge, as with ragas
        evidence, asked, measured = measure(claims, passages, question, self.weights.semantic, self.weights.span)
        probabilities = self.weights.probabilities(measured, question, passages)
        verdicts = [self._claim(m, p, asked, evidence) for m, p in zip(measured, probabilities, strict=True)]
        return FaithfulnessVerdict(sum(v.supported for v in verdicts) / len(verdicts), verdicts)

    def _claim(self, measured: Measured, probability: float, asked: Terms, evidence: Evidence) -> ClaimVerdict:
        claim, wanted = measured.claim, measured.lexical.claim
        if not wanted.stems:
            return ClaimVerdict(claim, True, 1.0, reason="no content words")
        best_index = measured.lexical.best
        if best_index is None:
            return ClaimVerdict(claim, False, 0.0, reason="there is no evidence")
        doc_id, sentence = evidence.sentences[best_index]
        best = evidence.terms[best_index]
        coverage = measured.values[LEXICAL_FEATURES.index("best_sentence_coverage")]
        reason, check = "", None
        if missing := sorted(wanted.numbers - evidence.numbers):
            reason, check = f"number {missing[0]} is not in the evidence", "number"
        elif unknown := sorted(wanted.names - evidence.pieces - asked.pieces):
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
