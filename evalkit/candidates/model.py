"""The `model` candidate: a chat model answering from its own weights (closed book).

This is how a fine-tuned model (`ft:...`) or a base model is evaluated without retrieval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from evalkit.candidates.base import BuildContext, Candidate, CandidateConfig, Output, candidate_kinds
from evalkit.candidates.chat import GenerationSpec, Generator

if TYPE_CHECKING:
    from evalkit.core.records import Case


@candidate_kinds.register("model")
class ModelConfig(CandidateConfig, GenerationSpec):
    kind: Literal["model"] = "model"

    def grounded(self) -> bool:
        return False

    def endpoint(self) -> GenerationSpec:
        return self

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
        self._generator = Generator(config, context)
        self.stats = self._generator.stats

    async def prepare(self, cases: list[Case]) -> None:
        await self._generator.prepare()

    async def answer(self, case: Case) -> Output:
        return await self._generator.generate(case, [])
