"""Chat generation shared by the `model` candidate and the `rag` candidate's `chat` generator.

Prompts are jinja2 templates; the defaults ask the model to cite passages as [doc id], and
`parse_citations` turns those back into document ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from evalkit.core.text import parse_citations
from evalkit.models.endpoints import EndpointSpec

if TYPE_CHECKING:
    from evalkit.candidates.base import BuildContext, Passage

RAG_SYSTEM = ("Answer the question using only the passages. After each sentence, cite the passages it "
              "comes from as [doc id]. If the passages do not answer the question, say that you do not know.")
RAG_PROMPT = "Passages:\n{% for p in passages %}[{{ p.doc_id }}] {{ p.text }}\n\n{% endfor %}Question: {{ question }}"
CLOSED_SYSTEM = "Answer the question concisely and factually."
CLOSED_PROMPT = "{{ question }}"


class ChatSpec(EndpointSpec):
    """The `chat` generator of a `rag` candidate: a model answering from the retrieved passages."""

    kind: Literal["chat"] = "chat"
    system: str = RAG_SYSTEM
    prompt: str = Field(default=RAG_PROMPT, description="jinja2 template with `question` and `passages`")


class ChatGenerator:
    """Renders the prompt, calls the model through evalkit.models.llm, and parses citations."""

    def __init__(self, spec: EndpointSpec, system: str, prompt: str, context: BuildContext):
        from jinja2 import Environment, StrictUndefined

        from evalkit.models.llm import CallStats

        self.spec, self.system, self.context = spec, system, context
        self.template = Environment(undefined=StrictUndefined, autoescape=False).from_string(prompt)
        self.stats = CallStats()
        self._client: Any = None

    async def generate(self, question: str, passages: list[Passage]) -> tuple[str, list[str], dict[str, int]]:
        from evalkit.models.llm import chat, make_client

        if self._client is None:  # made on first use: its concurrency bound belongs to the running loop
            self._client = make_client(self.spec, self.stats, self.context.call_cache)
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": self.template.render(question=question, passages=passages)}]
        answer, usage = await chat(self._client, self.spec, messages)
        return answer, parse_citations(answer), usage
