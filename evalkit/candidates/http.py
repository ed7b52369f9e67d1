"""The `http` candidate: POST each question to the team's own service and map its JSON reply.

Calls go through evalkit.models.llm's transport, so they get the same timeouts, retries with backoff on
429/5xx, concurrency bound and response cache as model calls.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from evalkit.candidates.base import BuildContext, Candidate, CandidateConfig, Output, candidate_kinds
from evalkit.candidates.mapping import to_output
from evalkit.core.redact import Redactor
from evalkit.models.endpoints import EndpointSpec, EnvVarName

if TYPE_CHECKING:
    from evalkit.core.records import Case


@candidate_kinds.register("http")
class HttpConfig(CandidateConfig):
    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://")  # the endpoint evalkit POSTs each question to
    question_field: str = "question"  # the request body is {question_field: question, **body}
    body: dict[str, Any] = Field(default_factory=dict)  # more fields sent with every request
    auth_env: EnvVarName | None = None  # variable holding a bearer token, sent as Authorization
    answer_path: str = "answer"  # dotted paths into the JSON reply
    sources_path: str | None = "sources"  # where the reply lists its sources (null: it has none)
    source_id_field: str = "id"  # each source's document id field
    # each source's passage text field (null: ids only: judged metrics are then not applicable)
    source_text_field: str | None = "text"
    contexts_path: str | None = None  # where the reply lists plain passage texts, if it does
    timeout_s: float = Field(default=60.0, gt=0)  # seconds per request
    max_retries: int = Field(default=4, ge=0)  # retries of a failed request (backoff)
    concurrency: int = Field(default=8, ge=1)  # requests in flight at once

    def missing_credentials(self) -> str | None:
        if self.auth_env and not os.environ.get(self.auth_env):
            return f"{self.auth_env} is not set"
        return None

    def build(self, context: BuildContext) -> Candidate:
        return HttpCandidate(self, context)


class HttpCandidate:
    def __init__(self, config: HttpConfig, context: BuildContext):
        from evalkit.models.llm import CallStats

        self.name, self.config, self.context = config.name, config, context
        self.stats = CallStats()
        self._client: Any = None

    async def prepare(self, cases: list[Case]) -> None:
        import httpx2

        from evalkit.models.llm import make_transport

        c = self.config
        policy = EndpointSpec(model=f"http:{c.name}", base_url=c.url, timeout_s=c.timeout_s,
                              max_retries=c.max_retries, concurrency=c.concurrency)
        headers = {"Authorization": f"Bearer {os.environ[c.auth_env]}"} if c.auth_env else {}
        self._client = httpx2.AsyncClient(transport=make_transport(policy, self.stats, self.context.call_cache),
                                          timeout=c.timeout_s, headers=headers)

    async def answer(self, case: Case) -> Output:
        import httpx2

        c = self.config
        started = time.perf_counter()
        try:
            response = await self._client.post(c.url, json={**c.body, c.question_field: case.question})
        except httpx2.TimeoutException:
            return Output(error=f"timed out after {c.timeout_s:g} s ({c.max_retries} retries)")
        except httpx2.TransportError as exc:
            from evalkit.models.llm import connection_error

            return Output(error=connection_error(exc, c.url))
        latency = time.perf_counter() - started
        if response.status_code != 200:
            said = Redactor([os.environ.get(c.auth_env, "")] if c.auth_env else [])(response.text) or ""
            return Output(error=f"HTTP {response.status_code} from {c.url}: {said[:200]}", latency_s=latency)
        try:
            data = response.json()
        except ValueError:
            return Output(error=f"the reply from {c.url} is not JSON", latency_s=latency)
        output = to_output(data, c.answer_path, c.sources_path, c.source_id_field, c.contexts_path,
                           c.source_text_field)
        if output.error:  # JSON, but not of the shape the suite describes: a failed call in the usage too
            self.stats.failures += 1
        output.latency_s = latency
        return output
