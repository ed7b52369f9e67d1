"""What the offline judge measures about one claim against its evidence, by words.

Every feature here is lexical (stemmed content words, their bigrams and trigrams, numbers, names,
negation): offline-v2 judges with these alone; offline-v4 adds what evalkit.judges.semantic
measures by meaning. training.learn fits the weights that turn them into a probability
(calibrations/offline-v*.weights.json).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalkit.core.text import STOPWORDS, sentences, words

if TYPE_CHECKING:
    from evalkit.core.records import Passage

_NUMBER = re.compile(r"^\d[\d.,]*$")
_NEGATIONS = frozenset({"not", "no", "never", "none", "neither", "nor", "without", "cannot", "n't"})
_PIECE = re.compile(r"[^\W_]+")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+\b")

FEATURES = (
    "best_sentence_coverage",  # share of the claim's content words in its best-covering sentence
    "evidence_coverage",  # ... anywhere in the evidence
    "window_coverage",  # ... in the best sentence and its neighbours
    "top3_coverage",  # ... in the three best-covering sentences
    "new_word_coverage",  # share of the words the question did not already give that the evidence has
    "new_word_best_coverage",  # ... in the best sentence
    "bigram_coverage",  # share of the claim's content-word bigrams found in the evidence
    "trigram_coverage",
    "bigram_best_coverage",
    "long_word_coverage",  # words of 6+ letters: the informative ones
    "numbers_missing",  # share of the claim's numbers absent from the evidence
    "number_missing_from_best",
    "names_missing",  # share of the claim's names absent from the evidence
    "name_missing_from_best",
    "negation_differs_from_best",
    "claim_length",  # log(1 + content words)
    "question_overlap",  # share of the claim's content words taken from the question
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer, installed with the BM25 retriever

    return Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Terms:
    sequence: tuple[str, ...]  # stemmed content words in order
    stems: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]  # capitalised words not starting the sentence, lower-cased
    pieces: frozenset[str]  # alphanumeric pieces, lower-cased ("PD-1" gives "pd" and "1")
    negated: bool

    def grams(self, n: int) -> set[tuple[str, ...]]:
        return set(zip(*(self.sequence[i:] for i in range(n)), strict=False))


NO_TERMS = Terms((), frozenset(), frozenset(), frozenset(), frozenset(), False)


def terms(text: str) -> Terms:
    text = text.replace("n't", " not")
    tokens = words(text)
    content = [t for t in tokens if t not in STOPWORDS and t not in _NEGATIONS]
    sequence = tuple(_stemmer().stemWords(content))
    return Terms(sequence, frozenset(sequence), frozenset(t.replace(",", "") for t in tokens if _NUMBER.match(t)),
                 frozenset(n.lower() for n in _NAME.findall(text.strip())) - STOPWORDS,
                 frozenset(_PIECE.findall(text.lower())), any(t in _NEGATIONS for t in tokens))


@dataclass(frozen=True)
class PassageTerms:
    """One passage's sentences and what the judge measures of them: computed once per distinct
    passage text, however many answers cite it (the same passages come back for many questions)."""

    sentences: tuple[str, ...]
    terms: tuple[Terms, ...]
    stems: frozenset[str]
    numbers: frozenset[str]
    pieces: frozenset[str]
    bigrams: frozenset[tuple[str, ...]]
    trigrams: frozenset[tuple[str, ...]]


@lru_cache(maxsize=65536)
def passage_terms(text: str) -> PassageTerms:
    found = tuple(sentences(text))
    measured = tuple(terms(s) for s in found)
    return PassageTerms(found, measured, frozenset().union(*(t.stems for t in measured)),
                        frozenset().union(*(t.numbers for t in measured)),
                        frozenset().union(*(t.pieces for t in measured)),
                        frozenset().union(*(t.grams(2) for t in measured)),
                        frozenset().union(*(t.grams(3) for t in measured)))


class Evidence:
    """The sentences of the retrieved passages, as one body of evidence for a judged answer."""

    def __init__(self, passages: list[Passage]):
        parts = [(p.doc_id, passage_terms(p.text)) for p in passages]
        self.sentences = [(doc_id, s) for doc_id, part in parts for s in part.sentences]
        self.terms = [t for _, part in parts for t in part.terms]
        self.stems = frozenset().union(*(part.stems for _, part in parts))
        self.numbers = frozenset().union(*(part.numbers for _, part in parts))
        self.pieces = frozenset().union(*(part.pieces for _, part in parts))
        self.bigrams = set().union(*(part.bigrams for _, part in parts))
        self.trigrams = set().union(*(part.trigrams for _, part in parts))


@dataclass
class ClaimFeatures:
    values: list[float]  # in FEATURES order
    best: int | None  # index of the best-covering evidence sentence
    claim: Terms


def share(wanted: set[Any] | frozenset[Any], found: set[Any] | frozenset[Any], empty: float = 1.0) -> float:
    return len(wanted & found) / len(wanted) if wanted else empty


def claim_features(claim: str, question: Terms, evidence: Evidence) -> ClaimFeatures:
    c = terms(claim)
    coverage = [share(c.stems, t.stems, 0.0) for t in evidence.terms]
    order = sorted(range(len(coverage)), key=lambda i: -coverage[i])
    best = order[0] if order else None
    top = evidence.terms[best] if best is not None else NO_TERMS
    near = evidence.terms[max(0, best - 1):best + 2] if best is not None else []
    window = frozenset().union(*(t.stems for t in near))
    top3 = frozenset().union(*(evidence.terms[i].stems for i in order[:3]))
    new = c.stems - question.stems
    long_words = {s for s in c.stems if len(s) >= 6}
    values = [
        coverage[best] if best is not None else 0.0,
        share(c.stems, evidence.stems, 0.0),
        share(c.stems, window, 0.0),
        share(c.stems, top3, 0.0),
        share(new, evidence.stems),
        share(new, top.stems),
        share(c.grams(2), evidence.bigrams, 0.0),
        share(c.grams(3), evidence.trigrams, 0.0),
        share(c.grams(2), top.grams(2), 0.0),
        share(long_words, evidence.stems, 0.0),
        1.0 - share(c.numbers, evidence.numbers),
        float(bool(c.numbers - top.numbers)),
        1.0 - share(c.names, evidence.pieces),
        float(bool(c.names - top.pieces)),
        float(c.negated != top.negated),
        math.log1p(len(c.stems)),
        share(c.stems, question.stems, 0.0),
    ]
    return ClaimFeatures(values, best, c)
