"""What a run will cost before it runs: model calls, tokens, dollars and time per candidate and judge.

Prompts are rendered for every case as the candidate would send them and counted with a real
tokenizer: tiktoken with the encoding of the OpenAI model named (its files ship with
llama-index-core, so nothing is downloaded), and for any other model the cl100k encoding as a stated
approximation. What cannot be known before running is assumed and said: the passages a retriever
will find (top_k chunks of chunk_size tokens), the answer's length (max_tokens, else 150 tokens),
and a call's latency (1 s unless given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalkit.config.suite import Suite, metric_specs
from evalkit.models.endpoints import EndpointSpec

ANSWER_TOKENS = 150  # assumed answer length when max_tokens is not set
JUDGE_PROMPT_TOKENS = 450  # a judge prompt's instructions and schema, besides the answer and passages
JUDGE_OUTPUT_TOKENS = 120


@dataclass
class Estimate:
    owner: str  # "candidate:<name>" or "judge:<name>"
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: the model has no known price
    seconds: float  # at the owner's concurrency
    tokenizer: str  # the encoding used, or how the count was approximated


@lru_cache(maxsize=8)
def _encoding(model: str) -> tuple[Any, str]:
    """tiktoken's encoding for an OpenAI model, read from llama-index-core's copy of the files."""
    import tiktoken

    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        import llama_index.core

        os.environ["TIKTOKEN_CACHE_DIR"] = os.path.join(os.path.dirname(llama_index.core.__file__), "_static",
                                                        "tiktoken_cache")
    base = model.split(":")[1] if model.startswith("ft:") else model
    try:
        encoding = tiktoken.encoding_for_model(base)
        return encoding, encoding.name
    except KeyError:
        return tiktoken.get_encoding("cl100k_base"), "cl100k_base (an approximation: not an OpenAI model)"


def count_tokens(text: str, model: str) -> int:
    return len(_encoding(model)[0].encode(text))


def estimate(suite: Suite, latency_s: float = 1.0) -> list[Estimate]:
    """An estimate per model-backed candidate and for the judge; candidates that call no model are left out."""
    from evalkit.candidates.chat import ChatSpec, Prompter
    from evalkit.candidates.model import ModelConfig
    from evalkit.candidates.rag import RagConfig

    estimates: list[Estimate] = []
    judged = 0  # answers a model judge will read, with passages
    for config in suite.candidates:
        if isinstance(config, RagConfig):
            judged += len(suite.cases)
        spec: EndpointSpec
        if isinstance(config, ModelConfig):
            spec, passages = config, 0
        elif isinstance(config, RagConfig) and isinstance(config.generator, ChatSpec):
            spec, passages = config.generator, config.retriever.top_k * config.chunking.chunk_size
        else:
            continue
        prompter = Prompter(spec, suite.directory)
        system = prompter.system if prompter.api == "chat" else ""
        rendered = [system + prompter.render(case, []) for case in suite.cases]
        inputs = sum(count_tokens(text, spec.model) for text in rendered) + passages * len(rendered)
        outputs = (spec.max_tokens or ANSWER_TOKENS) * len(rendered)
        estimates.append(_priced(f"candidate:{config.name}", spec, len(rendered), inputs, outputs, latency_s,
                                 _encoding(spec.model)[1] + (", passages assumed" if passages else "")))
    judge = suite.spec.judge
    judged_metrics = [spec for spec in metric_specs(suite) if "judge" in spec.needs]
    if judge is not None and judge.endpoint is not None and judged and judged_metrics:
        # ragas's faithfulness makes 2 calls per answer; every other judged metric is counted as one
        calls = judged * sum(2 if judge.kind == "ragas" and spec.base == "faithfulness" else 1
                             for spec in judged_metrics)
        answer = ANSWER_TOKENS + 5 * 512  # an answer and top-5 passages of 512 tokens
        estimates.append(_priced(f"judge:{judge.judge_name}", judge.endpoint, calls,
                                 calls * (JUDGE_PROMPT_TOKENS + answer), calls * JUDGE_OUTPUT_TOKENS, latency_s,
                                 "assumed sizes"))
    return estimates


def _priced(owner: str, spec: Any, calls: int, inputs: int, outputs: int, latency_s: float,
            tokenizer: str) -> Estimate:
    cost = spec.cost({"prompt_tokens": inputs, "completion_tokens": outputs})
    seconds = calls * latency_s / max(1, spec.concurrency)
    return Estimate(owner, spec.model, calls, inputs, outputs, cost, seconds, tokenizer)
