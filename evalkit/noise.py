"""Measured run-to-run noise: the spread of each metric's mean over repeated runs of one suite.

`evalkit run --repeat N` runs the suite N times and writes `noise.json` into the last run folder:
for each candidate and metric, the N means, their standard deviation (ddof=1) and range. A
`no_regression` gate with `beyond_noise: true` then fails only on a drop larger than twice that
standard deviation as well.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from evalkit.results import CandidateSummary

NOISE = "noise.json"
Noise = dict[str, dict[str, dict[str, Any]]]  # candidate -> metric -> {"means", "sd", "range"}


def measure(repeats: list[list[CandidateSummary]]) -> Noise:
    noise: Noise = {}
    for summaries in zip(*repeats, strict=True):
        name = summaries[0].name
        noise[name] = {}
        for metric in summaries[0].metrics:
            means = [s.metrics[metric].mean for s in summaries if s.metrics[metric].mean is not None]
            if len(means) < 2:
                continue
            noise[name][metric] = {"means": means, "sd": statistics.stdev(means),
                                   "range": max(means) - min(means)}
    return noise


def write_noise(folder: Path, noise: Noise, runs: list[str]) -> None:
    (folder / NOISE).write_text(json.dumps({"runs": runs, "noise": noise}, indent=2), encoding="utf-8")


def read_noise(folder: Path) -> Noise | None:
    path = folder / NOISE
    return json.loads(path.read_text(encoding="utf-8"))["noise"] if path.is_file() else None
