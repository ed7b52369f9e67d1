"""A sample's value for a metric, read where the metric's spec says it lives."""

from __future__ import annotations

from collections.abc import Iterable

from evalkit.core.records import Sample
from evalkit.core.specs import MetricSpec


def sample_value(sample: Sample, spec: MetricSpec) -> float | None:
    """The value that aggregates and paired tests use, or None (errored, or not applicable)."""
    if spec.source == "latency_s":
        return None if sample.output.error else sample.output.latency_s
    if spec.source == "cost_usd":
        return None if sample.output.error else sample.output.cost_usd
    score = sample.scores.get(spec.name)
    return score.value if score is not None else None


def per_case_values(samples: Iterable[Sample], candidate: str, spec: MetricSpec) -> dict[str, float]:
    """case id -> value for one candidate's samples that have a value."""
    values = {}
    for sample in samples:
        if sample.candidate == candidate and (value := sample_value(sample, spec)) is not None:
            values[sample.case_id] = value
    return values
