"""Statistics for aggregates: percentile-bootstrap confidence intervals of a mean or a percentile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BOOTSTRAP_RESAMPLES = 2000
SEED = 20240501  # fixed, so the same scores always give the same interval


def mean_ci(values: Sequence[float], confidence: float = 0.95,
            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile-bootstrap confidence interval.

    Resamples are drawn in chunks to bound memory on large runs. One value gives (v, v, v).
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("mean_ci of no values")
    mean = float(data.mean())
    if data.size == 1 or np.all(data == data[0]):
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // data.size)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = data[rng.integers(0, data.size, size=(stop - start, data.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return mean, float(low), float(high)


def percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else 0.0


def statistic(values: Sequence[float] | Any, aggregate: str) -> float:
    """The aggregate a metric spec names: "mean", or a percentile such as "p50" or "p95"."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    return float(data.mean()) if aggregate == "mean" else float(np.percentile(data, int(aggregate[1:])))


def statistic_ci(values: Sequence[float], aggregate: str = "mean", confidence: float = 0.95,
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """(statistic, low, high) with a percentile-bootstrap CI; the mean goes through mean_ci."""
    import numpy as np

    if aggregate == "mean":
        return mean_ci(values, confidence, resamples, seed)
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("statistic_ci of no values")
    point = statistic(data, aggregate)
    if data.size == 1 or np.all(data == data[0]):
        return point, point, point
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    chunk = max(1, 2_000_000 // data.size)
    q = int(aggregate[1:])
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        draws[start:stop] = np.percentile(data[rng.integers(0, data.size, size=(stop - start, data.size))], q, axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return point, float(low), float(high)
