"""The `model` candidate: a chat model answering from its own weights (closed book).

This is how a fine-tuned model (`ft:...`) or a base model is evaluated without retrieval.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from evalkit.candidates.base import BuildContext, Candidate, CandidateConfig, Output, candidate_kinds
from evalkit.candidates.chat import CLOSED_PROMPT, CLOSED_SYSTEM, ChatGenerator
from evalkit.models.endpoints import EndpointSpec

if TYPE_CHECKING:
    from evalkit.config.suite import Case


@candidate_kinds.register("model")
class ModelConfig(CandidateConfig, EndpointSpec):
    kind: Literal["model"] = "model"
    system: str = CLOSED_SYSTEM
    prompt: str = CLOSED_PROMPT  # jinja2 template with `question`

    def missing_credentials(self) -> str | None:
        return self.missing_key()

    def retrieves(self) -> bool:
        return False

    def reproducible(self) -> bool:
        return True  # a model's replies are cached by request too; --refresh recomputes both

    def build(self, context: BuildContext) -> Candidate:
        return ModelCandidate(self, context)


class ModelCandidate:
    def __init__(self, config: ModelConfig, context: BuildContext):
        self.name = config.name
        self._generator = ChatGenerator(config, config.system, config.prompt, context)
        self.stats = self._generator.stats

    async def prepare(self, cases: list[Case]) -> None:
        return None

    async def answer(self, case: Case) -> Output:
        started = time.perf_counter()
        answer, _, usage = await self._generator.generate(case.question, [])
        return Output(answer=answer, usage=usage, cost_usd=self._generator.spec.cost(usage),
                      latency_s=time.perf_counter() - started)
