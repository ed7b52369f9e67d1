"""Finish a run: samples -> summary -> gate verdicts -> exit code. Pure: no file, no network.

Baselines are resolved (read from disk or MLflow) before this is called, and the caller writes
the summary; the same inputs always give the same summary.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from evalkit.analysis.gates import BaselineResolver, evaluate_gates
from evalkit.analysis.summary import Labels, summarize
from evalkit.analysis.verdict import verdict
from evalkit.core.records import Sample
from evalkit.core.run import RunManifest, Summary


def finish(manifest: RunManifest, samples: list[Sample], *, usage: dict[str, Any], complete: bool,
           resolve_baseline: BaselineResolver | None = None, noise: dict[str, Any] | None = None,
           labels: Labels | None = None) -> Summary:
    """The run's summary: aggregates per candidate (with human labels: PPI estimates), gate verdicts,
    errors and missing samples."""
    candidates = summarize(manifest, samples, usage, labels)
    verdicts = evaluate_gates(manifest, candidates, samples, resolve_baseline, noise)
    errored = sum(sample.errored for sample in samples)
    missing = max(0, manifest.expected_samples - len(samples))
    return Summary(
        status="complete" if complete else "interrupted",
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        n_samples=len(samples), n_errored_samples=errored, n_missing_samples=missing,
        error_rate=(errored + missing) / max(1, manifest.expected_samples),
        max_error_rate=manifest.max_error_rate, candidates=candidates, gates=verdicts, noise=noise,
        judges={name: value for name, value in usage.items() if name.startswith("judge:")},
        verdict=verdict(manifest, candidates, samples),
    )
