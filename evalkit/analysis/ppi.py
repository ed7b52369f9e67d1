"""Prediction-powered inference (PPI++) for the mean of a judged metric.

A judge scores every sample; people label a few. The judge's mean is biased by however much it
disagrees with people; the labelled samples measure that bias. PPI (Angelopoulos et al., Science
2023) corrects the judge's mean on the unlabelled samples by the mean human-minus-judge difference
on the labelled ones, and gives a confidence interval that is valid whatever the judge's quality:

    estimate = lam * mean(judge on unlabelled) + mean(human - lam * judge on labelled)

PPI++ (Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453) picks the weight `lam` in [0, 1] that
minimises the interval's width: near 1 for a judge that tracks people, 0 for one that does not
(then the estimate is the plain mean of the labels, the classical interval). This is the
one-dimensional mean estimator of the authors' `ppi_py` (`ppi_mean_ci` with `lam=None`): the same
formulas, without its numba/statsmodels dependencies; tests check it against values from ppi_py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist


def power_tuning(labels: Sequence[float], judged: Sequence[float], judged_unlabelled: Sequence[float]) -> float:
    """The variance-minimising lam: cov(human, judge) / ((1 + n/N) var(judge)), clipped to [0, 1]."""
    import numpy as np

    y, f, u = (np.asarray(a, dtype=float) for a in (labels, judged, judged_unlabelled))
    n, big_n = len(y), len(u)
    covariance = float(((y - y.mean()) * (f - f.mean())).sum() / n)
    variance = float(np.var(np.concatenate([f, u]), ddof=1))
    if variance == 0:
        return 0.0  # a judge that says the same thing for every sample carries no information
    return float(np.clip(covariance / ((1 + n / big_n) * variance), 0.0, 1.0))


def ppi_mean_ci(labels: Sequence[float], judged: Sequence[float], judged_unlabelled: Sequence[float],
                confidence: float = 0.95, lam: float | None = None) -> tuple[float, float, float, float]:
    """(estimate, low, high, lam) for the mean of the human label over all samples.

    `labels[i]` and `judged[i]` are the human label and the judge's value of the i-th labelled
    sample; `judged_unlabelled` the judge's values on the samples nobody labelled. lam=None tunes it
    (PPI++); lam=1 is the original PPI; lam=0 the classical interval from the labels alone."""
    import numpy as np

    y, f, u = (np.asarray(a, dtype=float) for a in (labels, judged, judged_unlabelled))
    if len(y) < 2 or len(u) < 1:
        raise ValueError("PPI needs at least 2 labelled and 1 unlabelled samples")
    if lam is None:
        lam = power_tuning(labels, judged, judged_unlabelled)
    estimate = float(lam * u.mean() + (y - lam * f).mean())
    std_error = math.sqrt(float(np.std(lam * u)) ** 2 / len(u) + float(np.std(y - lam * f)) ** 2 / len(y))
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    return estimate, estimate - z * std_error, estimate + z * std_error, lam
