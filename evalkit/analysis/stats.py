"""Statistics for aggregates: percentile-bootstrap confidence intervals of a mean or a percentile."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

BOOTSTRAP_RESAMPLES = 2000
SEED = 20240501  # fixed, so the same scores always give the same interval
CHUNK = 2_000_000  # resampled values drawn at once, to bound memory on large runs


def _resamples(size: int, resamples: int, seed: int) -> Iterator[Any]:
    """The bootstrap's index arrays, chunk by chunk: each metric of a run with the same number of
    samples draws the same ones, so small draws are made once (SciFact's 9 metrics: 2000 x 809
    indices each) and large ones chunk by chunk."""
    if size * resamples <= 4 * CHUNK:
        yield from _drawn(size, resamples, seed)
    else:
        yield from _draw(size, resamples, seed)


def _draw(size: int, resamples: int, seed: int) -> Iterator[Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK // size)
    for start in range(0, resamples, chunk):
        yield rng.integers(0, size, size=(min(resamples, start + chunk) - start, size))


@functools.lru_cache(maxsize=8)
def _drawn(size: int, resamples: int, seed: int) -> tuple[Any, ...]:
    drawn = tuple(_draw(size, resamples, seed))
    for indices in drawn:
        indices.flags.writeable = False
    return drawn


def mean_ci(values: Sequence[float], confidence: float = 0.95,
            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile-bootstrap confidence interval. One value gives
    (v, v, v)."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("mean_ci of no values")
    mean = float(data.mean())
    if data.size == 1 or np.all(data == data[0]):
        return mean, mean, mean
    means = np.concatenate([data[indices].mean(axis=1) for indices in _resamples(data.size, resamples, seed)])
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
    q = int(aggregate[1:])
    draws = np.concatenate([np.percentile(data[indices], q, axis=1)
                            for indices in _resamples(data.size, resamples, seed)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return point, float(low), float(high)
