"""The one function that turns a run's samples into per-candidate aggregates."""

from __future__ import annotations

from typing import Any

from evalkit.analysis.stats import statistic_ci
from evalkit.analysis.values import sample_value
from evalkit.core.records import Sample
from evalkit.core.run import CandidateSummary, MetricAggregate, RunManifest
from evalkit.core.specs import MetricSpec


def _aggregate(spec: MetricSpec, rows: list[Sample], judge: str | None) -> MetricAggregate:
    values: list[float] = []
    errors = skipped = 0
    for sample in rows:
        value = sample_value(sample, spec)
        if value is not None:
            values.append(value)
        elif sample.output.error:
            errors += 1
        elif spec.source == "score":
            score = sample.scores.get(spec.name)
            errors += bool(score and score.error)
            skipped += bool(score and score.skipped)
        else:
            skipped += 1  # e.g. no priced model call behind this sample's cost
    aggregate = MetricAggregate(metric=spec.name, n=len(values), n_errors=errors, n_skipped=skipped, judge=judge)
    if values:
        aggregate.value, aggregate.ci_low, aggregate.ci_high = statistic_ci(values, spec.aggregate)
    return aggregate


def summarize(manifest: RunManifest, samples: list[Sample],
              usage: dict[str, Any] | None = None) -> list[CandidateSummary]:
    """Per candidate and metric: n, the metric's statistic and its 95% bootstrap CI over the samples
    that have a value; errors and not-applicable samples counted apart, never averaged in."""
    by_candidate: dict[str, list[Sample]] = {c.name: [] for c in manifest.candidates}
    # in suite order, whatever order they finished in: a bootstrap CI depends on the order of its values
    for sample in sorted(samples, key=lambda s: s.position):
        by_candidate.setdefault(sample.candidate, []).append(sample)
    summaries = []
    for candidate in manifest.candidates:
        rows = by_candidate[candidate.name]
        summary = CandidateSummary(name=candidate.name, n_samples=len(rows),
                                   n_failed=sum(bool(s.output.error) for s in rows), skipped=candidate.skipped,
                                   usage=(usage or {}).get(f"candidate:{candidate.name}"))
        for spec in manifest.metrics:
            summary.metrics[spec.name] = _aggregate(spec, rows, spec.judge)
        summaries.append(summary)
    return summaries
