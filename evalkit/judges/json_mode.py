"""ragas's LLM interface answered in OpenAI JSON mode, without instructor's per-call machinery.

ragas's collections metrics render their own prompts and ask their LLM for an instance of a
pydantic model. `llm_factory` answers through instructor, which rebuilds models, schemas and
validators on every call: about 2.5 ms of CPU per call, enough to make a judged run at
concurrency 64 CPU-bound (benchmarks/bench_llm.py). This adapter sends the same request as
instructor's JSON mode (the output schema in a system message, `response_format: json_object`)
through `evalkit.models.llm.chat`, and validates the reply with ragas's own response model.
"""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from ragas.llms.base import InstructorBaseRagasLLM

from evalkit.models.llm import ModelCallError, chat, unfence

if TYPE_CHECKING:
    from pydantic import BaseModel

    from evalkit.models.endpoints import EndpointSpec

Model = TypeVar("Model", bound="BaseModel")


@lru_cache(maxsize=64)
def schema_message(response_model: type[BaseModel]) -> str:
    """The system message instructor's JSON mode sends, computed once per response model."""
    schema = json.dumps(response_model.model_json_schema(), indent=2, ensure_ascii=False)
    return ("As a genius expert, your task is to understand the content and provide\n"
            "the parsed objects in json that match the following json_schema:\n\n\n"
            f"{schema}\n\nMake sure to return an instance of the JSON, not the schema itself")


class JsonModeLLM(InstructorBaseRagasLLM):
    def __init__(self, client: Any, spec: EndpointSpec):
        self.client, self.spec = client, spec

    async def agenerate(self, prompt: str, response_model: type[Model]) -> Model:
        from pydantic import ValidationError

        messages = [{"role": "system", "content": schema_message(response_model)},
                    {"role": "user", "content": prompt}]
        text, _ = await chat(self.client, self.spec, messages, response_format={"type": "json_object"})
        try:
            return response_model.model_validate_json(unfence(text))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "the reply"
            raise ModelCallError(f"the judge's reply is not a valid {response_model.__name__} "
                                 f"({where}: {problem['msg']})") from None

    def generate(self, prompt: str, response_model: type[Model]) -> Model:
        return asyncio.run(self.agenerate(prompt, response_model))
