"""Build the suite's judge from its spec: one Judge protocol for every kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.judges.spec import OFFLINE_NAME, OFFLINE_VERSIONS

if TYPE_CHECKING:
    from evalkit.core.judge import Judge
    from evalkit.judges.offline import Scorer
    from evalkit.judges.spec import ModelJudgeSpec, OfflineJudgeSpec, RagasJudgeSpec
    from evalkit.models.endpoints import CacheSettings


def shipped_scorer(name: str) -> Scorer:
    """What gives an offline judge version its claims' probabilities, as shipped."""
    if name == OFFLINE_VERSIONS["cross-encoder"]:
        from evalkit.judges.cross import ShippedEncoder

        return ShippedEncoder()
    from evalkit.judges.offline import shipped_by_shape, shipped_weights

    if name == OFFLINE_VERSIONS["span"]:
        return shipped_by_shape(name)
    return shipped_weights(name)


def build_judge(spec: OfflineJudgeSpec | ModelJudgeSpec | RagasJudgeSpec | None, cache: CacheSettings) -> Judge:
    """The judge a spec names; no spec is the offline judge."""
    if spec is None or spec.kind == "offline":
        from evalkit.judges.offline import OfflineJudge

        name = spec.judge_name if spec else OFFLINE_NAME
        return OfflineJudge(shipped_scorer(name), name)
    if spec.kind == "model":
        from evalkit.judges.model import ModelJudge

        return ModelJudge(spec, cache)
    from evalkit.judges.ragas import RagasJudge

    return RagasJudge(spec, cache)
