"""Generation shared by the `model` candidate and the `rag` candidate's `chat` generator.

Prompts are versioned templates (evalkit.candidates.prompts), for chat or for few-shot
completion; `system` and `prompt` override a template's text. The default grounded templates ask
the model to cite passages as [doc id], and `parse_citations` turns those back into document ids.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from evalkit.candidates.prompts import Api, default_template, examples_for, load_examples, template
from evalkit.core.records import Output
from evalkit.core.text import parse_citations
from evalkit.models.endpoints import EndpointSpec

if TYPE_CHECKING:
    from evalkit.candidates.base import BuildContext, Passage
    from evalkit.core.records import Case


class GenerationSpec(EndpointSpec):
    """A model and how it is prompted."""

    api: Api = Field(default="chat", description="chat (instruction models) or completion (base models, few-shot)")
    template: str = Field(default="", description="a versioned prompt template; default by api and retrieval")
    system: str | None = Field(default=None, description="chat: overrides the template's system message")
    prompt: str | None = Field(default=None, description="jinja2: overrides the template's text")
    examples: str | None = Field(default=None, description="completion: JSONL file of worked examples")
    n_examples: int = Field(default=4, ge=0, le=20)  # completion: worked examples put in the prompt
    stop: list[str] | None = Field(default=None, description="completion: where the answer ends")

    def grounded(self) -> bool:
        return True

    @model_validator(mode="after")
    def _resolve_template(self) -> GenerationSpec:
        if not self.template:  # the default is written into the config, so the version is recorded
            object.__setattr__(self, "template", default_template(self.api, self.grounded()))
        chosen = template(self.template)
        if chosen.api != self.api:
            raise ValueError(f"template {self.template} is for the {chosen.api} api, and api is {self.api}")
        if self.api == "completion" and self.n_examples and not self.examples:
            raise ValueError("the completion api needs worked examples: set examples: to a JSONL file "
                             "(or n_examples: 0 for a zero-shot prompt)")
        return self


class ChatSpec(GenerationSpec):
    """The `chat` generator of a `rag` candidate: a model answering from the retrieved passages."""

    kind: Literal["chat"] = "chat"


class Prompter:
    """A spec's prompt, rendered for a case (no model call: the plan's estimate uses it too)."""

    def __init__(self, spec: GenerationSpec, suite_dir: Path):
        from jinja2 import Environment, StrictUndefined

        chosen = template(spec.template)
        environment = Environment(undefined=StrictUndefined, autoescape=False)
        self.api, self.n_examples = spec.api, spec.n_examples
        self.system = spec.system if spec.system is not None else chosen.system
        self.template = environment.from_string(spec.prompt if spec.prompt is not None else chosen.prompt)
        self.stop = spec.stop if spec.stop is not None else list(chosen.stop)
        self.examples = load_examples(suite_dir / spec.examples) if spec.examples else []

    def render(self, case: Case, passages: list[Passage]) -> str:
        shown = examples_for(self.examples, case.id, self.n_examples)
        return self.template.render(question=case.question, passages=passages, examples=shown)

    def as_sent(self, text: str) -> str:
        """The whole prompt as one text: for chat, the system and user messages."""
        return text if self.api == "completion" else f"[system]\n{self.system}\n\n[user]\n{text}"


class Generator:
    """Renders the prompt, calls the model through evalkit.models.llm, and parses citations."""

    def __init__(self, spec: GenerationSpec, context: BuildContext):
        from evalkit.models.llm import CallStats

        self.spec: EndpointSpec = spec
        self.context = context
        self.prompter = Prompter(spec, context.suite_dir)
        self.stats = CallStats()
        self._client: Any = None

    async def prepare(self) -> None:
        """Start the endpoint if evalkit serves it (a local model) and make the client."""
        from evalkit.models.llm import make_client, resolve_endpoint

        if self._client is None:  # its concurrency bound belongs to the running loop
            self.spec = await asyncio.to_thread(resolve_endpoint, self.spec, self.context.cache_dir)
            self._client = make_client(self.spec, self.stats, self.context.call_cache)

    async def generate(self, case: Case, passages: list[Passage]) -> Output:
        """The answer with its citations, usage, cost, the prompt as sent, and its latency: wall time
        without the time queued in evalkit for a slot, and for a reply replayed from the response
        cache, the server time of the call that made it."""
        from evalkit.models.llm import CallTiming, call_timing, chat, complete

        await self.prepare()
        started, timing = time.perf_counter(), CallTiming()
        token = call_timing.set(timing)
        try:
            prompter = self.prompter
            text = prompter.render(case, passages)
            if prompter.api == "completion":
                answer, usage = await complete(self._client, self.spec, text, prompter.stop)
            else:
                messages = [{"role": "system", "content": prompter.system}, {"role": "user", "content": text}]
                answer, usage = await chat(self._client, self.spec, messages)
        finally:
            call_timing.reset(token)
        latency = time.perf_counter() - started - timing.queued_s + timing.replayed_s
        return Output(answer=answer, passages=passages, citations=parse_citations(answer), usage=usage,
                      cost_usd=self.spec.cost(usage), latency_s=latency, queued_s=round(timing.queued_s, 6),
                      prompt=prompter.as_sent(text))
