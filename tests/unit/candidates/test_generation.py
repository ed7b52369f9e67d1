"""How evalkit prompts models and times their calls: templates, few-shot examples that never show
the scored case, system text for templates without a system role, and latency without queueing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from evalkit.candidates.base import BuildContext
from evalkit.candidates.chat import ChatSpec, Generator, Prompter
from evalkit.core.records import Case, Passage
from evalkit.models.llm import merge_system
from tests.fake_openai import FakeOpenAI

EXAMPLES = [{"id": "e1", "question": "Who led the Norse?", "answer": "Rollo",
             "passages": [{"doc_id": "Normans#0", "text": "Rollo led the Norse."}], "cite": ["Normans#0"]},
            {"id": "e2", "question": "Who built the moon?", "answer": None,
             "passages": [{"doc_id": "Normans#1", "text": "The Normans were Catholic."}], "cite": []},
            {"id": "e3", "question": "What religion?", "answer": "Catholic",
             "passages": [{"doc_id": "Normans#1", "text": "The Normans were Catholic."}], "cite": ["Normans#1"]}]


def completion_spec(tmp_path: Path, **extra) -> ChatSpec:
    (tmp_path / "examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES))
    return ChatSpec(model="m", api="completion", examples="examples.jsonl", n_examples=2, **extra)


def test_the_grounded_completion_prompt_shows_examples_but_never_the_scored_case(tmp_path: Path) -> None:
    prompter = Prompter(completion_spec(tmp_path), tmp_path)
    passages = [Passage(doc_id="Sky#2", text="Sky launched in 1989.", rank=1)]
    text = prompter.render(Case(id="q9", question="When did Sky launch?"), passages)
    assert text.endswith("[Sky#2] Sky launched in 1989.\nQuestion: When did Sky launch?\nAnswer:")
    assert "Answer: Rollo [Normans#0]\n" in text and "Answer: The passages do not say.\n" in text
    assert "What religion?" not in text  # two examples asked for
    own = prompter.render(Case(id="e1", question="Who led the Norse?"), passages)
    assert "Rollo led the Norse." not in own and "What religion?" in own  # e1 is replaced by the next one
    assert prompter.stop == ["\n"]


def test_a_spec_records_its_template_version_and_rejects_mismatches(tmp_path: Path) -> None:
    assert ChatSpec(model="m").template == "grounded-chat-v1"
    assert completion_spec(tmp_path).template == "grounded-completion-v1"
    with pytest.raises(ValidationError, match="needs worked examples"):
        ChatSpec(model="m", api="completion")
    with pytest.raises(ValidationError, match="is for the chat api"):
        ChatSpec(model="m", api="completion", template="grounded-chat-v1", n_examples=0)
    with pytest.raises(ValidationError, match="local: model is served by evalkit"):
        ChatSpec(model="local:gemma3-270m", base_url="http://127.0.0.1:1/v1")


def test_system_text_opens_the_first_user_turn() -> None:
    messages = [{"role": "system", "content": "Cite as [id]."}, {"role": "user", "content": "Q?"}]
    assert merge_system(messages) == [{"role": "user", "content": "Cite as [id].\n\nQ?"}]
    assert messages[1]["content"] == "Q?"  # the caller's messages are not changed


def test_a_local_model_reply_is_cached_across_server_ports(tmp_path: Path) -> None:
    """A local server gets a new port every run; its replies are cached by model file, not by URL."""
    from evalkit.models.endpoints import CacheSettings, EndpointSpec
    from evalkit.models.llm import CallStats, close_connections, complete, make_client

    async def ask(url: str) -> str:
        spec = EndpointSpec(model="local:gemma3-270m").model_copy(update={"base_url": url, "api_key_env": None})
        client = make_client(spec, CallStats(), CacheSettings(tmp_path / "llm"))
        try:
            return (await complete(client, spec, "Question: Who?\nAnswer:", ["\n"]))[0]
        finally:
            await close_connections()

    with FakeOpenAI() as first:
        answer = asyncio.run(ask(first.base_url))
    with FakeOpenAI() as second:
        assert asyncio.run(ask(second.base_url)) == answer
        assert second.requests == []


def test_latency_leaves_out_queueing_and_a_cached_reply_keeps_its_original_time(tmp_path: Path) -> None:
    """One slot, four answers at once: each waits for the others in evalkit, but its latency is its
    own call (~0.2 s), and the wait is reported apart. Replayed from the response cache, an answer
    reports the time its call took when it was made, not ~0 ms."""

    async def answers() -> list:
        spec = completion_spec(tmp_path, base_url=server.base_url, api_key_env=None, concurrency=1)
        context = BuildContext(None, tmp_path, tmp_path / "cache")
        generator = Generator(spec, context)
        cases = [Case(id=f"q{i}", question=f"Question {i}?") for i in range(4)]
        return await asyncio.gather(*(generator.generate(case, []) for case in cases))

    with FakeOpenAI(latency_s=0.2) as server:
        fresh = asyncio.run(answers())
        replayed = asyncio.run(answers())
    assert len(server.requests) == 4 and server.requests[0]["path"] == "/v1/completions"
    assert all(0.2 <= o.latency_s < 0.4 for o in fresh), [o.latency_s for o in fresh]
    assert sorted(o.queued_s > 0.15 for o in fresh) == [False, True, True, True]
    assert max(o.queued_s for o in fresh) >= 0.55  # the last waited for three calls
    assert all(0.2 <= o.latency_s < 0.4 and o.queued_s < 0.05 for o in replayed), [o.latency_s for o in replayed]
    assert fresh[0].answer == replayed[0].answer and fresh[0].prompt.endswith("Question 0?\nAnswer:")
