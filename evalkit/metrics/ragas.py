"""Adapters that compute metrics through ragas itself, so the numbers are ragas's own."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from evalkit.metrics.base import MetricContext, Score, metric_registry

if TYPE_CHECKING:
    from evalkit.candidates.base import Output
    from evalkit.suite import Case


@cache
def _ragas_metric(kind: str) -> Any:
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # its telemetry stalls ~5 s offline
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # the ID-based metrics exist only in ragas's legacy metrics API (0.4.x)
        from ragas.metrics import IDBasedContextPrecision, IDBasedContextRecall

    return IDBasedContextPrecision() if kind == "precision" else IDBasedContextRecall()


@dataclass
class RagasIdMetric:
    """ragas's IDBasedContextPrecision / IDBasedContextRecall on retrieved vs expected doc ids."""

    name: str
    kind: str  # "precision" | "recall"
    requires: tuple[str, ...] = ("expected_sources",)
    judge: str | None = None

    async def score(self, case: Case, output: Output) -> Score:
        from ragas.dataset_schema import SingleTurnSample

        ids: list[str | int] = list(output.retrieved_ids)
        if not ids:
            return Score(error="no retrieved ids")
        sample = SingleTurnSample(retrieved_context_ids=ids, reference_context_ids=[*case.expected_sources])
        value = await _ragas_metric(self.kind).single_turn_ascore(sample)
        if value is None or math.isnan(value):
            return Score(error="ragas returned NaN")
        return Score(float(value))


for _kind in ("precision", "recall"):

    def _factory(name: str, k: int | None, context: MetricContext, kind: str = _kind) -> RagasIdMetric:
        return RagasIdMetric(name, kind)

    metric_registry.register(f"context_{_kind}_ids")(_factory)
