"""Plain-text helpers shared by the extractive generator, answer metrics and the offline judge."""

from __future__ import annotations

import re
import string
from functools import lru_cache

_SENTENCE_END = re.compile(r"((?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n{2,}|\n(?=\s*[-*•]\s))")
# a period after an initial ("John F. Kennedy", "U.S.": any capital but the pronoun I), a title or a
# short abbreviation does not end the sentence
_NOT_AN_END = re.compile(r"(?:^|[\s(\"'\[])(?:[A-HJ-Z]|[A-Z](?:\.[A-Z])+|Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|Gen|Col|Lt|Rev|Fig|"
                         r"No|Nos|Vol|vs|cf|approx|e\.g|i\.e)\.$")
_WORD = re.compile(r"\w+(?:[.,'’-]\w+)*", re.UNICODE)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)
_CITATION = re.compile(r"\s*\[[^\]]{1,80}\]")

STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does for from had has have he her
    his how i if in into is it its itself me more most my of on or our over she so some such than that
    the their them then there these they this those through to too us was we were what when where
    which while who whom why will with would you your also about after again against all am any
    because before below between both during each few further here just once only other own same
    should up very""".split()  # noqa: SIM905 - a word list reads better as text
)


def sentences(text: str) -> list[str]:
    """Split text into sentences on end punctuation followed by a capital or digit, and on blank
    lines and list items; not after an initial or a common abbreviation."""
    pieces = _SENTENCE_END.split(text)
    found = [pieces[0]]
    for separator, piece in zip(pieces[1::2], pieces[2::2], strict=True):
        if "\n" not in separator and _NOT_AN_END.search(found[-1]):
            found[-1] += separator + piece
        else:
            found.append(piece)
    return [part.strip() for part in found if part.strip()]


def words(text: str) -> list[str]:
    """Lower-cased word tokens; keeps numbers like 3.5 and 1,000 whole."""
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def quotes(answer: str, texts: list[str]) -> bool:
    """Whether every sentence of the answer is, word for word after SQuAD's normalisation, a whole
    sentence of one of the texts: an extractive answer says only what its passages say. A whole
    sentence, not any span: a plausible wrong answer is a span of its paragraph too."""
    claims = [normalize_answer(s) for s in sentences(strip_citations(answer))]
    claims = [c for c in claims if c]
    if not claims:
        return False
    found = frozenset().union(*(_normalised_sentences(t) for t in texts))
    return all(c in found for c in claims)


@lru_cache(maxsize=4096)
def _normalised_sentences(text: str) -> frozenset[str]:
    return frozenset(normalize_answer(s) for s in sentences(text))


def strip_citations(answer: str) -> str:
    """The answer without its citation marks ([doc-id]): what it says, for answer metrics and judges."""
    return _CITATION.sub("", answer)


_BRACKETS = re.compile(r"\[([^\[\]\n]{1,300})\]")
_CITED_SPAN = re.compile(r"([^\[\]]+?)\s*((?:\[[^\[\]\n]{1,300}\]\s*)+)")


def parse_citations(answer: str) -> list[str]:
    """Doc ids cited as [id] or [id1, id2], in order of first citation. Every cited id is kept, also
    one that was not retrieved (evalkit.metrics.citations measures those)."""
    cited = (part.strip() for group in _BRACKETS.findall(answer) for part in re.split(r"[,;]", group))
    return list(dict.fromkeys(doc for doc in cited if doc))


def cited_spans(answer: str) -> list[tuple[str, list[str]]]:
    """(text, the ids it cites) for each stretch of the answer that ends in citation marks: the
    convention of citing after each sentence ("Aspirin reduces fever [d1]. It is cheap [d2].")."""
    spans = []
    for match in _CITED_SPAN.finditer(answer):
        text = match.group(1).strip(" .;,")
        if text and (ids := parse_citations(match.group(2))):
            spans.append((text, ids))
    return spans
