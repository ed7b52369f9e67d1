"""The local model's speed: prompt and generation tokens per second, and latency per call at
concurrency 1, 2 and 4 (does llama-cpp-python's server serialize requests?).

    nox -s bench -- benchmarks/bench_local.py      (needs the local extra)

Prompts are the SQuAD 2.0 suite's grounded few-shot prompts (a different question and paragraph
each, so no call reuses another's evaluated prompt beyond the shared examples).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from evalkit.candidates.chat import ChatSpec, Prompter
from evalkit.core.records import Case, Passage
from evalkit.models.endpoints import CacheSettings, EndpointSpec
from evalkit.models.llm import CallStats, close_connections, complete, make_client, resolve_endpoint
from evalkit.models.local import stop_servers

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "suites" / "data" / "squad2"


def prompts(n: int) -> list[str]:
    spec = ChatSpec(model="local:gemma3-270m", api="completion", examples="examples.jsonl")
    prompter = Prompter(spec, DATA)
    corpus = {row["id"]: row["text"] for row in map(json.loads, (DATA / "corpus.jsonl").read_text().splitlines())}
    rows = [json.loads(line) for line in (DATA / "cases.jsonl").read_text().splitlines()[100:100 + n]]
    return [prompter.render(Case(id=row["id"], question=row["question"]),
                            [Passage(doc_id=doc, text=corpus[doc], rank=1) for doc in row["expected_sources"]])
            for row in rows]


async def timed(client, spec: EndpointSpec, prompt: str, max_tokens: int, stop: list[str]) -> tuple[float, dict]:
    spec = spec.model_copy(update={"max_tokens": max_tokens})
    started = time.perf_counter()
    _, usage = await complete(client, spec, prompt, stop)
    return time.perf_counter() - started, usage


async def main() -> None:
    cache = Path(tempfile.mkdtemp(prefix="evalkit-bench-local-"))
    base = resolve_endpoint(EndpointSpec(model="local:gemma3-270m"), cache)
    texts = prompts(24)
    try:
        client = make_client(base, CallStats(), CacheSettings(None))
        # prompt evaluation: one generated token; then the same prompt again generating 48 tokens with
        # no stop: the server reuses the evaluated prompt, so that call's time is generation
        prompt_rates, gen_rates = [], []
        for text in texts[:6]:
            first, usage = await timed(client, base, text, 1, [])
            again, generated = await timed(client, base, text, 48, [])
            prompt_rates.append(usage["prompt_tokens"] / first)
            gen_rates.append(generated["completion_tokens"] / again)
        print(f"prompt evaluation: {prompt_rates[0]:.0f} tokens/s on the first prompt (~{usage['prompt_tokens']} "
              f"tokens, nothing cached); {statistics.median(prompt_rates[1:]):.0f} tokens/s counted over whole "
              "prompts when the few-shot prefix is already in the server's KV cache (median of 5)")
        print(f"generation:        {statistics.median(gen_rates):.1f} tokens/s (median of 6)")
        await close_connections()
        for concurrency in (1, 2, 4):
            spec = base.model_copy(update={"concurrency": concurrency, "max_tokens": 16})
            client = make_client(spec, CallStats(), CacheSettings(None))
            batch = texts[6:6 + 12]
            started = time.perf_counter()
            results = await asyncio.gather(*(timed(client, spec, text, 16, ["\n"]) for text in batch))
            wall = time.perf_counter() - started
            latencies = sorted(seconds for seconds, _ in results)
            print(f"concurrency {concurrency}: {len(batch)} calls in {wall:.1f} s "
                  f"({wall / len(batch):.2f} s per call); "
                  f"as the caller sees it, waiting included: p50 {statistics.median(latencies):.2f} s, "
                  f"max {latencies[-1]:.2f} s")
            await close_connections()
    finally:
        stop_servers()


if __name__ == "__main__":
    asyncio.run(main())
