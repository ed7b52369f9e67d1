"""The offline faithfulness judge: deterministic, CPU-only, no network.

For each claim (sentence) of the answer it finds the best-supporting sentence among the
retrieved passages by stemmed content-word coverage, then requires that the claim's numbers and
negations appear in that support. faithfulness = supported claims / claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from evalkit.judges.base import ClaimVerdict, FaithfulnessVerdict
from evalkit.text import STOPWORDS, sentences, words

if TYPE_CHECKING:
    from evalkit.candidates.base import Passage

_NUMBER = re.compile(r"^\d[\d.,]*$")
_NEGATIONS = frozenset({"not", "no", "never", "none", "neither", "nor", "without", "cannot", "n't"})
_PIECE = re.compile(r"[^\W_]+")
_CITATION = re.compile(r"\s*\[[^\]]{1,80}\]")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer, installed with the BM25 retriever

    return Stemmer.Stemmer("english")


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+\b")


class Terms(NamedTuple):
    stems: set[str]  # stemmed content words
    numbers: set[str]
    names: set[str]  # capitalised words not starting the sentence, lower-cased
    pieces: set[str]  # alphanumeric pieces, lower-cased ("PD-1" gives "pd" and "1")
    negated: bool


def _terms(text: str) -> Terms:
    text = text.replace("n't", " not")
    tokens = words(text)
    numbers = {t.replace(",", "") for t in tokens if _NUMBER.match(t)}
    content = [t for t in tokens if t not in STOPWORDS and t not in _NEGATIONS]
    names = {n.lower() for n in _NAME.findall(text.strip())} - STOPWORDS
    pieces = set(_PIECE.findall(text.lower()))
    return Terms(set(_stemmer().stemWords(content)), numbers, names, pieces,
                 any(t in _NEGATIONS for t in tokens))


@dataclass
class OfflineJudge:
    # share of a claim's content words that its best support must contain; chosen by 5-fold CV
    # on AttributionBench dev (docs/calibration.md)
    threshold: float = 0.4
    name: str = "offline-v1"

    stats = None  # makes no model calls

    async def faithfulness(self, question: str, answer: str, passages: list[Passage]) -> FaithfulnessVerdict:
        return self.judge(answer, passages)

    def judge(self, answer: str, passages: list[Passage]) -> FaithfulnessVerdict:
        claims = [c for c in sentences(_CITATION.sub("", answer)) if words(c)]
        if not claims:
            return FaithfulnessVerdict(float("nan"), [])  # nothing to judge, as with ragas
        evidence = [(p.doc_id, s, _terms(s)) for p in passages for s in sentences(p.text)]
        verdicts = [self._claim(claim, evidence) for claim in claims]
        return FaithfulnessVerdict(sum(v.supported for v in verdicts) / len(verdicts), verdicts)

    def _claim(self, claim: str, evidence: list[tuple[str, str, Terms]]) -> ClaimVerdict:
        wanted = _terms(claim)
        if not wanted.stems:
            return ClaimVerdict(claim, True, 1.0, reason="no content words")
        best: tuple[float, str | None, str | None, Terms | None] = (0.0, None, None, None)
        for source_id, text, candidate in evidence:
            coverage = len(wanted.stems & candidate.stems) / len(wanted.stems)
            if coverage > best[0]:
                best = (coverage, source_id, text, candidate)
        support, doc_id, sentence, terms = best
        if terms is None:
            return ClaimVerdict(claim, False, 0.0, reason="no passage shares a content word")
        reason, check = "", None
        if support < self.threshold:
            reason = f"only {support:.0%} of its content words are in the best passage sentence"
        elif missing := sorted(wanted.numbers - terms.numbers):
            reason, check = f"number {missing[0]} is not in the evidence", "number"
        elif unknown := sorted(wanted.names - terms.pieces):
            reason, check = f"name '{unknown[0]}' is not in the evidence", "name"
        elif wanted.negated != terms.negated:
            reason, check = "negation differs from the evidence", "negation"
        return ClaimVerdict(claim, not reason, support, doc_id, sentence, reason, check)
