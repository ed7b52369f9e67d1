"""offline-v6: a cross-encoder fine-tuned from the shipped MiniLM gives each claim its probability
of being supported; the offline judge's number, name and negation checks still apply.

A sentence claim. Each passage is cut at sentence ends into windows of at most WINDOW_TOKENS
tokens, and the claim reads the WINDOWS windows that hold most of its content words. In every
layer the claim's tokens attend to their own and to the evidence's keys and values; the
evidence's come from the base MiniLM run on the window alone, so they do not depend on the claim.
They are computed once per window text and kept (MemoryCache, by content): a passage that comes
back for many questions, or for every candidate of a run, is encoded once, and each claim costs
one pass of its own ~20-60 tokens. Its score is then averaged with offline-v4's (CrossEncoder).

A short answer (fewer than SHORT_CLAIM words) only means something with its question, and whether
a paragraph answers a question depends on the question: a plausible wrong answer is usually in
the paragraph, beside words of the question. So "question [SEP] answer [SEP] window" is read as
one sequence, every token attending to every other, against the one window that holds the answer
(answer_window). Nothing is cached but the windows' tokens: ~150 tokens a pass.

Training (training.train_cross) fine-tunes the reading copy of the six layers and a logistic
head on the mean-pooled last states of the claim's (or question's and answer's) tokens; what
ships is those layers and the head (calibrations/offline-v6.*).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalkit.core.text import normalize_answer, quotes, sentences, words
from evalkit.judges.features import terms
from evalkit.judges.spec import OFFLINE_VERSIONS, shipped_file

if TYPE_CHECKING:
    import torch

    from evalkit.core.records import Passage
    from evalkit.judges.offline import Measured, Weights
    from evalkit.models.minilm import Memory, MiniLM

NAME = OFFLINE_VERSIONS["cross-encoder"]  # offline-v6 (v5 read short answers against cached windows too)
WINDOW_TOKENS = 128  # a window's tokens with [CLS] and [SEP]
WINDOWS = 3  # windows read per claim
SHORT_CLAIM = 8  # a claim of fewer words is read with its question
CLAIM_TOKENS = 64
MIX = 0.5  # the weight of offline-v4's logit beside the cross-encoder's, for a whole-sentence claim
CACHE_BYTES = 512 * 2**20  # evidence keys and values kept, float16 (about 1.2 MB per full window)


@dataclass(frozen=True)
class Window:
    text: str
    ids: tuple[int, ...]  # [CLS] ... [SEP]
    stems: frozenset[str]


@lru_cache(maxsize=65536)
def windows(text: str) -> tuple[Window, ...]:
    """A passage cut at sentence ends into windows of at most WINDOW_TOKENS tokens (a longer
    sentence is cut into pieces of that size)."""
    from evalkit.models.minilm import tokenizer

    room = WINDOW_TOKENS - 2
    found: list[Window] = []
    texts: list[str] = []
    ids: list[int] = []

    def flush() -> None:
        if ids:
            joined = " ".join(texts)
            found.append(Window(joined, (101, *ids, 102), terms(joined).stems))
        texts.clear()
        ids.clear()

    for sentence in sentences(text):
        pieces = tokenizer().encode(sentence, add_special_tokens=False).ids
        if ids and len(ids) + len(pieces) > room:
            flush()
        while len(pieces) > room:
            texts.append(sentence)
            ids.extend(pieces[:room])
            flush()
            pieces = pieces[room:]
        if pieces:
            texts.append(sentence)
            ids.extend(pieces)
    flush()
    return tuple(found)


@dataclass(frozen=True)
class ClaimInput:
    ids: list[int]
    types: list[int]
    pool: int  # the leading tokens whose states are pooled: the claim's, or the question's and answer's
    windows: list[Window]  # the evidence read from the cache; empty when it is read jointly
    short: bool  # a short answer, read with its question and one window, jointly


def claim_input(claim: str, question: str, passages: list[Passage]) -> ClaimInput:
    """What the cross-encoder reads of a claim. A sentence claim attends to the cached keys and values
    of its WINDOWS windows. A short answer only means something with its question, and whether a
    paragraph answers a question depends on the question: "question [SEP] answer [SEP] window" is
    read as one sequence, every token attending to every other, with the one window that holds the
    answer (answer_window)."""
    from evalkit.models.minilm import tokenizer

    short = bool(question) and len(words(claim)) < SHORT_CLAIM
    encoded = tokenizer().encode(question, claim) if short else tokenizer().encode(claim)
    ids, types = list(encoded.ids), list(encoded.type_ids)
    if len(ids) > CLAIM_TOKENS:
        ids, types = [*ids[:CLAIM_TOKENS - 1], 102], types[:CLAIM_TOKENS]
    if not short:
        return ClaimInput(ids, types, len(ids), chosen_windows(claim, passages), False)
    window = answer_window(claim, question, passages)
    evidence = list(window.ids[1:]) if window else []
    return ClaimInput([*ids, *evidence], [*types, *[0] * len(evidence)], len(ids), [], True)


def passage_windows(passages: list[Passage]) -> list[Window]:
    return [w for p in passages for w in windows(p.text)]


def chosen_windows(selection_text: str, passages: list[Passage]) -> list[Window]:
    """The WINDOWS windows of the passages that hold most of the claim's content words."""
    wanted = terms(selection_text).stems
    found = passage_windows(passages)
    if not wanted:
        return found[:WINDOWS]
    order = sorted(range(len(found)), key=lambda i: -len(wanted & found[i].stems))
    return [found[i] for i in sorted(order[:WINDOWS])]


def answer_window(answer: str, question: str, passages: list[Passage]) -> Window | None:
    """The window a short answer is read against: of those that contain the answer, the one that
    holds most of the question's content words; if none contains it, the one that holds most of
    the question's and the answer's."""
    found = passage_windows(passages)
    target = normalize_answer(answer)
    holding = [w for w in found if target and target in normalize_answer(w.text)]
    wanted = terms(question if holding else f"{question} {answer}").stems
    return max(holding or found, key=lambda w: len(wanted & w.stems), default=None)


class MemoryCache:
    """Evidence windows' keys and values by window text, least recently used dropped past a size."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit, self.bytes = limit, 0
        self._kept: OrderedDict[str, Memory] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # windows encoded (misses), for tests and benchmarks

    def get(self, model: MiniLM, found: list[Window]) -> list[Memory]:
        import torch

        from evalkit.models.minilm import Memory

        with self._lock:
            missing = list(dict.fromkeys(w for w in found if w.text not in self._kept))
            if missing:
                width = max(len(w.ids) for w in missing)
                ids = torch.tensor([[*w.ids, *[0] * (width - len(w.ids))] for w in missing])
                mask = (ids != 0).long()
                with torch.inference_mode():
                    layers = model.memory(ids, mask)
                for row, window in enumerate(missing):
                    n = len(window.ids)
                    memory = Memory([k[row, :, :n].half().clone() for k, _ in layers],
                                    [v[row, :, :n].half().clone() for _, v in layers])
                    self._kept[window.text] = memory
                    self.bytes += memory.nbytes
                self.computed += len(missing)
            result = []
            for window in found:
                self._kept.move_to_end(window.text)
                result.append(self._kept[window.text])
            while self.bytes > self.limit and len(self._kept) > len(found):
                self.bytes -= self._kept.popitem(last=False)[1].nbytes
            return result


def stack(inputs: list[ClaimInput], memories: list[list[Memory]] | None) -> dict[str, Any]:
    """A padded batch: the inputs' ids, types, mask and pooling mask, and with memories, per layer
    the keys and values of each claim's windows side by side, with their mask."""
    import torch

    from evalkit.models.minilm import HEADS, HIDDEN, LAYERS

    width = max(len(read.ids) for read in inputs)
    ids = torch.zeros(len(inputs), width, dtype=torch.long)
    types = torch.zeros_like(ids)
    pool = torch.zeros_like(ids)
    for row, read in enumerate(inputs):
        ids[row, :len(read.ids)] = torch.tensor(read.ids)
        types[row, :len(read.types)] = torch.tensor(read.types)
        pool[row, :read.pool] = 1
    batch: dict[str, Any] = {"ids": ids, "types": types, "mask": (ids != 0).long(), "pool": pool,
                             "memory": None, "memory_mask": None}
    if memories is None:
        return batch
    spans = [sum(m.tokens for m in found) for found in memories]
    evidence_width = max(max(spans), 1)
    memory = []
    for layer in range(LAYERS):
        keys = torch.zeros(len(inputs), HEADS, evidence_width, HIDDEN // HEADS)
        values = torch.zeros_like(keys)
        for row, found in enumerate(memories):
            at = 0
            for m in found:
                keys[row, :, at:at + m.tokens] = m.keys[layer].float()
                values[row, :, at:at + m.tokens] = m.values[layer].float()
                at += m.tokens
        memory.append((keys, values))
    batch["memory"] = memory
    batch["memory_mask"] = torch.tensor([[1] * n + [0] * (evidence_width - n) for n in spans])
    return batch


def logits_of(model: MiniLM, inputs: list[ClaimInput], memories: list[list[Memory]] | None,
              head_weight: torch.Tensor, head_bias: torch.Tensor) -> torch.Tensor:
    """The head's logit for each input of one batch: its pooled tokens' mean last state."""
    batch = stack(inputs, memories)
    hidden = model(batch["ids"], batch["mask"], batch["types"], batch["memory"], batch["memory_mask"])
    return pooled(hidden, batch["pool"]) @ head_weight + head_bias


def read_logits(model: MiniLM, base: MiniLM, cache: MemoryCache, inputs: list[ClaimInput],
                head_weight: torch.Tensor, head_bias: torch.Tensor) -> torch.Tensor:
    """The head's logit for each input, in order, as the judge and its training both read them:
    the sentence claims in one batch against their windows' cached keys and values (the base model
    encodes a window the first time), the short answers in another, each read with its window."""
    import torch

    cached = [i for i, read in enumerate(inputs) if not read.short]
    joint = [i for i, read in enumerate(inputs) if read.short]
    logits = torch.zeros(len(inputs))
    if cached:
        logits[cached] = logits_of(model, [inputs[i] for i in cached], [cache.get(base, inputs[i].windows)
                                                                        for i in cached], head_weight, head_bias)
    if joint:
        logits[joint] = logits_of(model, [inputs[i] for i in joint], None, head_weight, head_bias)
    return logits


def pooled(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass
class CrossEncoder:
    """offline-v6's scorer. The base MiniLM encodes the evidence; its fine-tuned copy reads the claim
    (or a short answer with its question and window); the head turns the mean-pooled states of the
    claim's tokens into a logit. For a whole-sentence claim that logit is averaged (weight MIX) with
    offline-v4's, whose measures of words and meaning it complements; a short answer is judged by
    the cross-encoder alone (v4 is at chance on fragments)."""

    base: MiniLM
    model: MiniLM
    head_weight: torch.Tensor  # (384,)
    head_bias: torch.Tensor  # ()
    measures: Weights  # offline-v4's, fitted on the same human labels
    threshold: float = 0.5
    cache: MemoryCache = field(default_factory=MemoryCache)

    semantic = True  # offline-v4's measures include the embedding features
    span = False

    def support(self, inputs: list[ClaimInput]) -> list[float]:
        """The cross-encoder's own probability for each claim."""
        import torch

        with torch.inference_mode():
            logits = read_logits(self.model, self.base, self.cache, inputs, self.head_weight, self.head_bias)
        return [float(p) for p in torch.sigmoid(logits)]

    def probabilities(self, measured: list[Measured], question: str, passages: list[Passage]) -> list[float]:
        inputs = [claim_input(m.claim, question, passages) for m in measured]
        found = []
        for read, cross, m in zip(inputs, self.support(inputs), measured, strict=True):
            if read.short:  # the cross-encoder alone
                found.append(cross)
            elif quoted(m.claim, passages):
                found.append(1.0)
            else:  # averaged with offline-v4 in logit space
                mixed = MIX * _logit(self.measures.probability(m.values)) + (1 - MIX) * _logit(cross)
                found.append(1 / (1 + math.exp(-mixed)))
        return found


def quoted(claim: str, passages: list[Passage]) -> bool:
    """Whether the claim is a sentence of a passage, word for word (evalkit.core.text.quotes).
    Such a claim is supported whatever the model says: it is what the evidence says. The model
    alone judged 8 of the SQuAD demo's 80 quoted sentences unsupported; all 24 such claims in
    AttributionBench dev are labelled supported."""
    return quotes(claim, [p.text for p in passages])


def load_encoder(weights: bytes, measures: Weights, threshold: float = 0.5) -> CrossEncoder:
    """The cross-encoder from a weights file's bytes (safetensors: the fine-tuned layers in float16
    and the head) on top of the package's MiniLM, run in float32. (Up to evalkit 0.3 the claim path
    ran in int8, twice as fast, but int8 kernels differ by CPU: on AVX-512 and AMX machines the same
    claims got other scores.)"""
    from safetensors.torch import load

    from evalkit.models.minilm import load_base

    tensors = load(weights)
    model = load_base()
    model.load_state_dict({k: v.float() for k, v in tensors.items() if k.startswith("layers.")}, strict=False)
    return CrossEncoder(load_base(), model, tensors["head.weight"].float(), tensors["head.bias"].float()[0],
                        measures, threshold)


@lru_cache(maxsize=1)
def _settings() -> dict[str, Any]:
    import json

    settings: dict[str, Any] = json.loads(shipped_file(f"{NAME}.weights.json").read_text(encoding="utf-8"))
    return settings


@lru_cache(maxsize=1)
def shipped_encoder() -> CrossEncoder:
    """offline-v6 as shipped: calibrations/offline-v6.safetensors, with offline-v4's weights."""
    from evalkit.judges.offline import shipped_weights

    return load_encoder(shipped_file(f"{NAME}.safetensors").read_bytes(), shipped_weights(_settings()["measures"]),
                        float(_settings()["threshold"]))


class ShippedEncoder:
    """offline-v6's scorer, loaded on its first claim: a run whose scores all come from the cache
    never loads torch or the model."""

    semantic = True
    span = False

    @property
    def threshold(self) -> float:
        return float(_settings()["threshold"])

    def probabilities(self, measured: list[Measured], question: str, passages: list[Passage]) -> list[float]:
        return shipped_encoder().probabilities(measured, question, passages)
