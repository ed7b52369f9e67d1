"""The extractive generator: answer with the retrieved sentences that best match the question."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.core.text import content_words, sentences

if TYPE_CHECKING:
    from evalkit.candidates.base import Passage


class ExtractiveGenerator:
    """Scores each sentence of the top passages by the share of question words it contains
    (ties go to the better-ranked passage) and answers with the best few, citing their documents."""

    def __init__(self, max_sentences: int = 2, max_passages: int = 3):
        self.max_sentences = max_sentences
        self.max_passages = max_passages

    def generate(self, question: str, passages: list[Passage]) -> tuple[str, list[str]]:
        asked = set(content_words(question))
        scored = []
        for passage in passages[: self.max_passages]:
            for position, sentence in enumerate(sentences(passage.text)):
                overlap = len(asked & set(content_words(sentence))) / max(1, len(asked))
                scored.append((-overlap, passage.rank, position, sentence, passage.doc_id))
        chosen = sorted(sorted(scored)[: self.max_sentences], key=lambda item: (item[1], item[2]))
        answer = " ".join(f"{sentence} [{doc_id}]" for _, _, _, sentence, doc_id in chosen)
        return answer, list(dict.fromkeys(doc_id for *_, doc_id in chosen))
