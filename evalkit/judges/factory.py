"""Build the suite's judge from its spec: one Judge protocol for every kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.judges.spec import OFFLINE_NAME

if TYPE_CHECKING:
    from evalkit.core.judge import Judge
    from evalkit.judges.spec import ModelJudgeSpec, OfflineJudgeSpec, RagasJudgeSpec
    from evalkit.models.endpoints import CacheSettings


def build_judge(spec: OfflineJudgeSpec | ModelJudgeSpec | RagasJudgeSpec | None, cache: CacheSettings) -> Judge:
    """The judge a spec names; no spec is the offline judge."""
    if spec is None or spec.kind == "offline":
        from evalkit.judges.offline import OfflineJudge, shipped_weights

        name = spec.judge_name if spec else OFFLINE_NAME
        return OfflineJudge(shipped_weights(name), name)
    if spec.kind == "model":
        from evalkit.judges.model import ModelJudge

        return ModelJudge(spec, cache)
    from evalkit.judges.ragas import RagasJudge

    return RagasJudge(spec, cache)
