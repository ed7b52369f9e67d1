"""How a suite names its judge: `judge: {kind: offline | model | ragas, ...}`.

`offline` needs nothing; `model` and `ragas` name a model behind an OpenAI-compatible endpoint
(the fields of EndpointSpec). The 0.1 form, a bare endpoint without `kind`, still reads as
`kind: ragas` (what it meant then), with a deprecation note.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.models.endpoints import EndpointSpec

# the offline judge's versions (docs/calibration.md): v2 weighs lexical measures, v4 adds meaning
# (static sentence embeddings fitted to MiniLM), v6 is a MiniLM cross-encoder trained on human labels,
# v7 adds to v2's measures where the answer stands in the evidence, with a model per answer shape, and
# v8 adds v4's measures by meaning to v7's (v3 and v5 are retired: their calibration records stay, for
# the runs that used them)
OFFLINE_VERSIONS: dict[str, str] = {"lexical": "offline-v2", "semantic": "offline-v4", "cross-encoder": "offline-v6",
                                    "span": "offline-v7", "span-semantic": "offline-v8"}
Features = Literal["lexical", "semantic", "cross-encoder", "span", "span-semantic"]  # the keys of OFFLINE_VERSIONS
DEFAULT_FEATURES: Features = "span"  # chosen on the judge benchmark's test splits (docs/judge-benchmark.md)
OFFLINE_NAME = OFFLINE_VERSIONS[DEFAULT_FEATURES]
MODEL_PROMPT = "claims-v1"  # the model judge's prompt version


def shipped_file(name: str) -> Any:
    """A file shipped in evalkit/judges/calibrations (a calibration record or learned weights)."""
    return resources.files("evalkit.judges").joinpath("calibrations", name)


class OfflineJudgeSpec(BaseModel):
    """The offline judge: lexical and embedding features and a learned logistic model; no network."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["offline"] = "offline"
    features: Features = Field(
        default=DEFAULT_FEATURES, description="span (offline-v7, the default: word overlap and where the answer "
        "stands in the evidence, a model per answer shape), span-semantic (offline-v8: adds v4's measures by "
        "meaning to v7's; better on short answers, the same on sentences: docs/calibration.md), lexical "
        "(offline-v2: word overlap), semantic "
        "(offline-v4: adds sentence alignment by meaning; fails short fragment answers) or cross-encoder "
        "(offline-v6: MiniLM trained on human labels, reads a short answer with its question)")

    @property
    def endpoint(self) -> EndpointSpec | None:
        return None

    @property
    def judge_name(self) -> str:
        """How results name this judge (a calibration on record holds for exactly this name)."""
        return OFFLINE_VERSIONS[self.features]


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
