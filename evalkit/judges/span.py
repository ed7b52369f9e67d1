"""Where a claim stands in the evidence word for word, and what the evidence says around it.

offline-v7 adds these to offline-v2's lexical measures (evalkit.judges.features). Word overlap
alone cannot tell "Paris" found in the passage from "Paris" found nowhere when the words are
few, nor a span the passage holds beside the question's words (an answer) from one it holds in a
sentence about something else (SQuAD's plausible wrong answers). Words are compared after SQuAD's
normalisation (lower case, no punctuation or articles), the same one its answer metrics use.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from evalkit.core.text import normalize_answer

if TYPE_CHECKING:
    from evalkit.judges.features import Evidence, Terms

SPAN_FEATURES = (
    "span_found",  # the whole claim, normalised, stands word for word in the evidence
    "longest_run",  # the longest run of the claim's content words (stemmed) that the evidence has in a row
                    # (stop words aside), as a share of them
    "short_claim",  # fewer than SHORT_CLAIM words: an answer that means something only with its question
    "question_at_span",  # share of the question's content words around the claim's longest run (its sentence
                         # and the two beside it); 0 when no word of the claim is found
    "question_missing",  # share of the question's content words that the evidence lacks: a question the
                         # evidence cannot answer often names what the evidence does not have
)
SHORT_CLAIM = 8


@dataclass(frozen=True)
class Positions:
    """The evidence's stemmed content words in order, the sentence each one belongs to, where each
    one occurs, and the evidence's normalised text (for whole-claim matches)."""

    stems: tuple[str, ...]
    sentence_of: tuple[int, ...]  # index into Evidence.sentences
    where: dict[str, tuple[int, ...]]
    text: str  # " " + normalised words + " "


def positions(evidence: Evidence) -> Positions:
    stems: list[str] = []
    sentence_of: list[int] = []
    for index, measured in enumerate(evidence.terms):
        stems.extend(measured.sequence)
        sentence_of.extend([index] * len(measured.sequence))
    where: dict[str, list[int]] = defaultdict(list)
    for at, stem in enumerate(stems):
        where[stem].append(at)
    text = " ".join(" ".join(_normalised(sentence)) for _, sentence in evidence.sentences)
    return Positions(tuple(stems), tuple(sentence_of), {k: tuple(v) for k, v in where.items()}, f" {text} ")


@lru_cache(maxsize=65536)
def _normalised(text: str) -> tuple[str, ...]:
    return tuple(normalize_answer(text).split())


def longest_run(claim: tuple[str, ...], found: Positions) -> tuple[int, int]:
    """(length, start in the evidence) of the longest run of the claim's stems that the evidence
    holds in a row; the first such run, for determinism. (0, -1) when no stem is found."""
    best, start = 0, -1
    stems = found.stems
    for i, stem in enumerate(claim):
        if len(claim) - i <= best:
            break
        for at in found.where.get(stem, ()):
            length = 1
            while i + length < len(claim) and at + length < len(stems) and stems[at + length] == claim[i + length]:
                length += 1
            if length > best:
                best, start = length, at
    return best, start


def span_features(claim: Terms, text: str, question: Terms, evidence: Evidence, found: Positions) -> list[float]:
    """SPAN_FEATURES of one claim (its terms and text) against the evidence (`found` = positions(evidence),
    computed once per answer)."""
    words = _normalised(text)
    missing = len(question.stems - evidence.stems) / len(question.stems) if question.stems else 0.0
    length, start = longest_run(claim.sequence, found)
    near = 0.0
    if start >= 0 and question.stems:
        first, last = found.sentence_of[start], found.sentence_of[start + length - 1]
        around = evidence.terms[max(0, first - 1):last + 2]
        stems = frozenset().union(*(t.stems for t in around))
        near = len(question.stems & stems) / len(question.stems)
    whole = bool(words) and f" {' '.join(words)} " in found.text
    share = length / len(claim.sequence) if claim.sequence else 0.0
    return [float(whole), share, float(len(words) < SHORT_CLAIM), near, missing]
