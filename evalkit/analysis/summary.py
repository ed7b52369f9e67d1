"""The one function that turns a run's samples into per-candidate aggregates."""

from __future__ import annotations

from typing import Any

from evalkit.analysis.stats import statistic_ci
from evalkit.analysis.values import sample_value
from evalkit.core.records import Label, Sample
from evalkit.core.run import CandidateSummary, MetricAggregate, PPIEstimate, RunManifest
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


# (case id, candidate, metric) -> {answer key: the human label of that answer}
Labels = dict[tuple[str, str, str], dict[str, Label]]


def _ppi(spec: MetricSpec, rows: list[Sample], labels: Labels) -> PPIEstimate | None:
    """The judged metric's mean corrected by the human labels of this candidate's samples, when at
    least two labelled samples still have the answer that was labelled."""
    from evalkit.analysis.agreement import agreement
    from evalkit.analysis.ppi import ppi_mean_ci

    human, judged, unlabelled = [], [], []
    stale = 0
    for sample in rows:
        value = sample_value(sample, spec)
        given = labels.get((sample.case_id, sample.candidate, spec.name), {})
        label = given.get(sample.answer_key)
        stale += bool(given) and label is None  # labelled, but the answer changed since
        if value is None:
            continue
        if label is None:
            unlabelled.append(value)
        else:
            human.append(label.label)
            judged.append(value)
    if len(human) < 2:
        return None
    # every sample labelled: the labels' own mean and interval (lam = 0)
    value, low, high, lam = ppi_mean_ci(human, judged, unlabelled or judged, lam=None if unlabelled else 0.0)
    fit = {"mean_abs_error": sum(abs(h - j) for h, j in zip(human, judged, strict=True)) / len(human)}
    if set(human) == {0.0, 1.0}:
        fit |= agreement(human, [j >= 0.5 for j in judged], judged)
    return PPIEstimate(value=value, ci_low=low, ci_high=high, lam=lam, n_labeled=len(human), n_stale=stale,
                       judge_mean=sum(judged) / len(judged), human_mean=sum(human) / len(human), agreement=fit)


def summarize(manifest: RunManifest, samples: list[Sample],
              usage: dict[str, Any] | None = None, labels: Labels | None = None) -> list[CandidateSummary]:
    """Per candidate and metric: n, the metric's statistic and its 95% bootstrap CI over the samples
    that have a value; errors and not-applicable samples counted apart, never averaged in. With
    human labels, a judged metric also gets its prediction-powered estimate (analysis.ppi)."""
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
            if labels and spec.judge and spec.aggregate == "mean":
                summary.metrics[spec.name].ppi = _ppi(spec, rows, labels)
        summaries.append(summary)
    return summaries
