"""Measured run-to-run noise: the spread of each metric's statistic over repeated runs of one suite.

`evalkit run --repeat N` runs the suite N times and writes `noise.json` into the last run folder:
for each candidate and metric, the N values, their standard deviation (ddof=1) and range. A
`no_regression` gate with `beyond_noise: true` then fails only on a drop larger than twice that
standard deviation as well.
"""

from __future__ import annotations

import statistics
from typing import Any

from evalkit.core.run import CandidateSummary

Noise = dict[str, dict[str, dict[str, Any]]]  # candidate -> metric -> {"means", "sd", "range"}


def measure(repeats: list[list[CandidateSummary]]) -> Noise:
    noise: Noise = {}
    for summaries in zip(*repeats, strict=True):
        name = summaries[0].name
        noise[name] = {}
        for metric in summaries[0].metrics:
            means = [v for s in summaries if (v := s.metrics[metric].value) is not None]
            if len(means) < 2:
                continue
            noise[name][metric] = {"means": means, "sd": statistics.stdev(means),
                                   "range": max(means) - min(means)}
    return noise
