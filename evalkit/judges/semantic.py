"""What the offline judge measures of a claim with sentence embeddings.

Lexical overlap misses a paraphrase and is fooled by a sentence that shares the words but not the
meaning. These features align each claim with the evidence sentences it is closest to in meaning,
then ask of the aligned sentences what features.py asks of the best-covering one: do they hold
the claim's content words, numbers and names? The embeddings are the static approximation of the
local MiniLM (evalkit.models.static: ~0.2 ms a sentence, where MiniLM takes ~13 ms), cached by text, so
a passage that comes back for many questions, or for every candidate of a run, is embedded once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from evalkit.judges.features import Terms, share

if TYPE_CHECKING:
    from evalkit.judges.features import Evidence

SEMANTIC_FEATURES = (
    "sim_best",  # cosine similarity of the claim and its closest evidence sentence
    "sim_top3",  # ... mean over the three closest
    "sim_question",  # ... of the claim and the question (a claim that only restates it)
    "sim_gain",  # sim_best - sim_question
    "aligned_coverage",  # share of the claim's content words in the two closest sentences
    "aligned_numbers_missing",  # share of its numbers absent from them
    "aligned_names_missing",  # share of its names absent from them
    "aligned_new_coverage",  # share of the words the question did not give, found in them
    "sim_gap",  # sim_best minus the second best: one clear support, or many vague ones
    "sim_window",  # similarity to the closest sentence and its neighbours, averaged
    "sim_evidence",  # similarity to the evidence as a whole (its sentences averaged)
    "close_sentences",  # log(1 + sentences with similarity above 0.5)
)
CACHED = 100_000  # texts kept (128 float64 each: about 100 MB at most)
CLOSE = 0.5


class EmbeddingCache:
    """Unit-normalised static embeddings by text: misses are embedded together."""

    def __init__(self, size: int = CACHED):
        self.size = size
        self._vectors: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: list[str]) -> Any:
        import numpy as np

        from evalkit.models.static import DIMENSIONS, encode

        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if missing:
                for text, vector in zip(missing, encode(missing), strict=True):
                    self._vectors[text] = vector
            for text in texts:
                self._vectors.move_to_end(text)
            found = np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, DIMENSIONS))
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
            return found

    def forget(self, texts: Iterable[str] | None = None) -> None:
        """Drop these texts' embeddings (all of them without texts), as if never seen."""
        with self._lock:
            if texts is None:
                self._vectors.clear()
            for text in texts or ():
                self._vectors.pop(text, None)

    def __len__(self) -> int:
        return len(self._vectors)


EMBEDDINGS = EmbeddingCache()


def _dot(rows: Any, vector: Any) -> Any:
    """rows @ vector, summed in numpy's own order rather than by BLAS (whose order depends on the CPU)."""
    return (rows * vector).sum(axis=-1)


def semantic_features(claim: Terms, claim_vector: Any, question: Terms, question_vector: Any | None,
                      evidence: Evidence, sentence_vectors: Any) -> list[float]:
    """The SEMANTIC_FEATURES of one claim; sentence_vectors are the evidence sentences', in order."""
    import numpy as np

    from evalkit.models.static import unit

    if not len(sentence_vectors):
        return [0.0] * len(SEMANTIC_FEATURES)
    similarity = _dot(sentence_vectors, claim_vector)
    order = np.argsort(-similarity, kind="stable")
    best = int(order[0])
    aligned = [evidence.terms[i] for i in order[:2]]
    stems = frozenset().union(*(t.stems for t in aligned))
    numbers = frozenset().union(*(t.numbers for t in aligned))
    pieces = frozenset().union(*(t.pieces for t in aligned))
    to_question = float(_dot(question_vector, claim_vector)) if question_vector is not None else 0.0
    second = float(similarity[order[1]]) if len(order) > 1 else 0.0
    window = unit(sentence_vectors[max(0, best - 1):best + 2].mean(axis=0))
    return [
        float(similarity[best]),
        float(similarity[order[:3]].mean()),
        to_question,
        float(similarity[best]) - to_question,
        share(claim.stems, stems, 0.0),
        1.0 - share(claim.numbers, numbers),
        1.0 - share(claim.names, pieces),
        share(claim.stems - question.stems, stems),
        float(similarity[best]) - second,
        float(_dot(window, claim_vector)),
        float(_dot(unit(sentence_vectors.mean(axis=0)), claim_vector)),
        float(np.log1p((similarity > CLOSE).sum())),
    ]
