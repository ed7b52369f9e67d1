"""Build the suite's judge from its spec: one Judge protocol for every kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evalkit.core.registry import Registry
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

    if name in (OFFLINE_VERSIONS["span"], OFFLINE_VERSIONS["span-semantic"]):
        return shipped_by_shape(name)
    return shipped_weights(name)


JudgeFactory = Callable[[Any, "CacheSettings"], "Judge"]
judge_kinds: Registry[JudgeFactory] = Registry("judge kind", "evalkit.judges", builtins=())


@judge_kinds.register("offline")
def _offline(spec: OfflineJudgeSpec | None, cache: CacheSettings) -> Judge:
    from evalkit.judges.offline import OfflineJudge

    name = spec.judge_name if spec else OFFLINE_NAME
    return OfflineJudge(shipped_scorer(name), name)


@judge_kinds.register("model")
def _model(spec: ModelJudgeSpec, cache: CacheSettings) -> Judge:
    from evalkit.judges.model import ModelJudge

    return ModelJudge(spec, cache)


@judge_kinds.register("ragas")
def _ragas(spec: RagasJudgeSpec, cache: CacheSettings) -> Judge:
    from evalkit.judges.ragas import RagasJudge

    return RagasJudge(spec, cache)


def build_judge(spec: OfflineJudgeSpec | ModelJudgeSpec | RagasJudgeSpec | None, cache: CacheSettings) -> Judge:
    """The judge a spec names; no spec is the offline judge."""
    return judge_kinds.get(spec.kind if spec is not None else "offline")(spec, cache)
