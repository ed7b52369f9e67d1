"""How a suite names its judge: `judge: {kind: offline | model | ragas, ...}`.

`offline` needs nothing; `model` and `ragas` name a model behind an OpenAI-compatible endpoint
(the fields of EndpointSpec). The 0.1 form, a bare endpoint without `kind`, still reads as
`kind: ragas` (what it meant then), with a deprecation note.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.models.endpoints import EndpointSpec

OFFLINE_NAME = "offline-v2"  # the offline judge's version: its features and shipped weights
MODEL_PROMPT = "claims-v1"  # the model judge's prompt version


class OfflineJudgeSpec(BaseModel):
    """The offline judge: lexical features and a learned logistic model; no network."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["offline"] = "offline"

    @property
    def endpoint(self) -> EndpointSpec | None:
        return None

    @property
    def judge_name(self) -> str:
        """How results name this judge (a calibration on record holds for exactly this name)."""
        return OFFLINE_NAME


class _ModelBacked(EndpointSpec):
    """A judge that calls a model: its spec is the endpoint's."""

    @property
    def endpoint(self) -> EndpointSpec | None:
        return self

    @property
    def judge_name(self) -> str:
        return self.label


class ModelJudgeSpec(_ModelBacked):
    """evalkit's own claim-by-claim judge prompt: one call per sample, a verdict and passage per claim."""

    kind: Literal["model"] = "model"

    @property
    def judge_name(self) -> str:
        return f"{self.label} ({MODEL_PROMPT})"  # a calibration holds for one model and one prompt


class RagasJudgeSpec(_ModelBacked):
    """ragas's Faithfulness (statement extraction, then NLI): two calls per sample."""

    kind: Literal["ragas"] = "ragas"


JudgeSpec = Annotated[OfflineJudgeSpec | ModelJudgeSpec | RagasJudgeSpec, Field(discriminator="kind")]
JUDGE_KINDS = ("offline", "model", "ragas")
