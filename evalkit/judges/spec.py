"""How a suite names its judge: `judge: {kind: offline | model | ragas, ...}`.

`offline` needs nothing; `model` and `ragas` name a model behind an OpenAI-compatible endpoint
(the fields of EndpointSpec). The 0.1 form, a bare endpoint without `kind`, still reads as
`kind: ragas` (what it meant then), with a deprecation note.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.models.endpoints import EndpointSpec


class OfflineJudgeSpec(BaseModel):
    """The offline judge: lexical features and a learned logistic model; no network."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["offline"] = "offline"

    @property
    def endpoint(self) -> EndpointSpec | None:
        return None


class ModelJudgeSpec(EndpointSpec):
    """evalkit's own claim-by-claim judge prompt: one call per sample, a verdict and passage per claim."""

    kind: Literal["model"] = "model"

    @property
    def endpoint(self) -> EndpointSpec | None:
        return self


class RagasJudgeSpec(EndpointSpec):
    """ragas's Faithfulness (statement extraction, then NLI): two calls per sample."""

    kind: Literal["ragas"] = "ragas"

    @property
    def endpoint(self) -> EndpointSpec | None:
        return self


JudgeSpec = Annotated[OfflineJudgeSpec | ModelJudgeSpec | RagasJudgeSpec, Field(discriminator="kind")]
JUDGE_KINDS = ("offline", "model", "ragas")
