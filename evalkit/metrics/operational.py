"""Latency and cost as metrics: measured for every candidate of every run, lower is better.

Their values come from each sample's output (`latency_s`, `cost_usd`), not from a scorer, so they
need no listing under `metrics:`; gates, `compare` and the paired tests treat them like any metric.
A sample with no priced model call has no cost (not applicable), never a cost of 0.
"""

from __future__ import annotations

from evalkit.core.specs import MetricSpec

OPERATIONAL = (
    MetricSpec(name="latency_p50", base="latency", params={"q": 50}, direction="lower", unit="s",
               aggregate="p50", source="latency_s"),
    MetricSpec(name="latency_p95", base="latency", params={"q": 95}, direction="lower", unit="s",
               aggregate="p95", source="latency_s"),
    MetricSpec(name="cost", base="cost", direction="lower", unit="usd", source="cost_usd"),
)
OPERATIONAL_NAMES = tuple(spec.name for spec in OPERATIONAL)
