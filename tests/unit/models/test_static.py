"""The static sentence encoder (evalkit.models.static) and the fitting of its vectors to MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.models import static

UNSEEN = [
    "Milira sings the song 'I Want to Go Outside in the Rain.'",
    "The Treaty of Versailles was signed in 1919 and ended the First World War.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The Great Barrier Reef is the largest coral reef system in the world.",
    "Inflation reduces the purchasing power of money over time.",
    "The patient should take the medication twice a day with food.",
]


def test_encode_gives_unit_vectors_and_zeros_for_text_without_pieces() -> None:
    vectors = static.encode([*UNSEEN, ""])
    assert vectors.shape == (len(UNSEEN) + 1, static.DIMENSIONS) and vectors.dtype == np.float64  # summed without BLAS
    assert np.linalg.norm(vectors[:-1], axis=1) == pytest.approx(1.0, abs=1e-12)
    assert not vectors[-1].any()
    assert (static.encode([UNSEEN[0]])[0] == vectors[0]).all()  # a text's vector does not depend on its batch


def test_shipped_vectors_approximate_minilm_on_unseen_sentences() -> None:
    """What the offline judge relies on: the static embedding points where MiniLM's does, and pairs
    of sentences are ranked by similarity as MiniLM ranks them; closely on the kind of text the
    vectors were fitted to (held-out suite sentences), loosely on other text (AttributionBench claims)."""
    from evalkit.judges.calibration import load_labels
    from evalkit.judges.offline import claims_of
    from evalkit.models.embeddings import encode
    from tests.unit.judges.test_calibration import LABELS
    from training.fit_static import HELD_OUT, corpus

    held_out = corpus(40000)[:HELD_OUT][:300]  # the sentences the shipped fit held out
    claims = [c for row in load_labels(LABELS)[:300] for c in claims_of(row.answer)]
    basis = static.load()["basis"]  # MiniLM's space to the vectors' 128 principal directions
    for texts, cosine, correlation in ((held_out, 0.8, 0.8), (claims, 0.55, 0.5)):
        minilm, approximated = encode(texts) @ basis.T, static.encode(texts)
        minilm /= np.linalg.norm(minilm, axis=1, keepdims=True)
        assert float((minilm * approximated).sum(axis=1).mean()) > cosine
        upper = np.triu_indices(len(texts), 1)
        by_minilm, by_static = (minilm @ minilm.T)[upper], (approximated @ approximated.T)[upper]
        assert np.corrcoef(by_minilm, by_static)[0, 1] > correlation


def test_int8_storage_keeps_the_vectors(tmp_path) -> None:
    table = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    table[3] = 0.0
    static.save(tmp_path / "v.npz", table, np.eye(8))
    stored = np.load(tmp_path / "v.npz")
    assert (stored["basis"] == np.eye(8)).all()
    restored = stored["rows"].astype(np.float32) * stored["scale"][:, None]
    assert stored["rows"].dtype == np.int8
    assert np.abs(restored - table).max() <= np.abs(table).max(axis=1).max() / 254 + 1e-6


def test_fitting_moves_the_vectors_toward_minilm_on_held_out_text() -> None:
    from evalkit.models.embeddings import encode
    from training.fit_static import corpus, fit

    texts = corpus(1500)
    logged: list[str] = []
    table, held_out = fit(texts, encode(texts), steps=20, log=logged.append)
    first = float(logged[0].split("cosine ")[1].split()[0])  # after the least-squares start
    assert table.shape == (30522, 384)
    assert held_out > first + 0.02 and first > 0.4
