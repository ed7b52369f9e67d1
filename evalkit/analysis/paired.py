"""Paired comparison of two runs on the same cases: the change in a metric, its CI, and a p-value.

For a mean metric, per-case differences d_i = new_i - old_i give the mean change with a paired
bootstrap 95% CI and a sign-flip permutation test, exact when the differences are symmetric under
the null hypothesis (the usual paired-permutation assumption). For a percentile metric (p50
latency) the change in the percentile gets a paired bootstrap CI and a within-case swap test.
Every test reads the metric's direction: for a lower-is-better metric an increase is the regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.analysis.stats import SEED, mean_ci

PERMUTATIONS = 4000
EXACT_UP_TO = 16  # cases; 2**16 sign patterns are cheap to enumerate


@dataclass
class PairedComparison:
    n: int  # matched cases with a score in both runs
    mean_old: float  # the metric's statistic (its mean, or a percentile) in the old run
    mean_new: float
    diff: float  # mean_new - mean_old, in the metric's unit
    ci_low: float  # paired bootstrap 95% CI of diff
    ci_high: float
    p_value: float  # see the function that produced it for the hypothesis


def sign_flip_p(differences: Sequence[float], shift: float = 0.0, alternative: str = "less",
                permutations: int = PERMUTATIONS, seed: int = SEED) -> float:
    """p-value for H0: mean(d) = -shift, against mean(d) < -shift ("less") or != ("two-sided").

    Under H0 the centred differences d_i + shift are symmetric about 0, so flipping their signs
    at random gives the null distribution of their mean. Up to EXACT_UP_TO cases every sign
    pattern is enumerated (an exact p); beyond, random patterns with the +1 correction keep p > 0
    (Phipson & Smyth, 2010).
    """
    import numpy as np

    centred = np.asarray(differences, dtype=float) + shift
    if centred.size == 0:
        return 1.0
    observed = centred.mean()
    exact = centred.size <= EXACT_UP_TO
    if exact:
        patterns = np.arange(2**centred.size)[:, None] >> np.arange(centred.size) & 1
        signs = (patterns * 2 - 1).astype(np.int8)
    else:
        rng = np.random.default_rng(seed)
        signs = rng.integers(0, 2, size=(permutations, centred.size), dtype=np.int8) * 2 - 1
    null = (signs * centred).mean(axis=1)
    if alternative == "less":
        extreme = np.count_nonzero(null <= observed + 1e-12)
    else:
        extreme = np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12)
    return float(extreme / len(null)) if exact else float((extreme + 1) / (permutations + 1))


def swap_p(old: Any, new: Any, aggregate: str, sign: int = 1, shift: float = 0.0, alternative: str = "less",
           permutations: int = PERMUTATIONS, seed: int = SEED) -> float:
    """p-value of a paired permutation test for a percentile statistic (e.g. a p50 latency).

    H0: the improvement sign * (P(new) - P(old)) equals -shift. Shifting new by sign * shift makes
    the two runs exchangeable within each case under H0, so swapping old and new at random within
    cases gives the null distribution. Exact up to EXACT_UP_TO cases, like sign_flip_p."""
    import numpy as np

    q = int(aggregate[1:])
    shifted = np.asarray(new, dtype=float) + sign * shift
    old_a = np.asarray(old, dtype=float)
    if old_a.size == 0:
        return 1.0
    exact = old_a.size <= EXACT_UP_TO
    if exact:
        swaps = (np.arange(2**old_a.size)[:, None] >> np.arange(old_a.size) & 1).astype(bool)
    else:
        swaps = np.random.default_rng(seed).integers(0, 2, size=(permutations, old_a.size)).astype(bool)
    a, b = np.where(swaps, old_a, shifted), np.where(swaps, shifted, old_a)
    null = sign * (np.percentile(a, q, axis=1) - np.percentile(b, q, axis=1))
    observed = sign * (np.percentile(shifted, q) - np.percentile(old_a, q))
    if alternative == "less":
        extreme = np.count_nonzero(null <= observed + 1e-12)
    else:
        extreme = np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12)
    return float(extreme / len(null)) if exact else float((extreme + 1) / (permutations + 1))


def compare(old: Sequence[float], new: Sequence[float], shift: float = 0.0, alternative: str = "two-sided",
            aggregate: str = "mean", sign: int = 1) -> PairedComparison:
    """Compare paired values (old[i] and new[i] belong to the same case) on a metric's statistic.

    `sign` is the metric's direction (+1: higher is better); the one-sided alternative ("less")
    is that the improvement sign * diff is below -shift, i.e. the metric got worse by more than shift."""
    import numpy as np

    from evalkit.analysis.stats import statistic

    old_a, new_a = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    if aggregate == "mean":
        differences = new_a - old_a
        diff, low, high = mean_ci(differences)
        p = sign_flip_p(sign * differences, shift, alternative)
        return PairedComparison(len(differences), float(old_a.mean()), float(new_a.mean()), diff, low, high, p)
    diff = statistic(new_a, aggregate) - statistic(old_a, aggregate)
    low, high = _paired_bootstrap(old_a, new_a, aggregate)
    p = swap_p(old_a, new_a, aggregate, sign, shift, alternative)
    return PairedComparison(len(old_a), statistic(old_a, aggregate), statistic(new_a, aggregate), diff, low, high, p)


def _paired_bootstrap(old: Any, new: Any, aggregate: str, resamples: int = 2000) -> tuple[float, float]:
    """95% CI of P(new) - P(old), resampling cases (both runs' values of a case together)."""
    import numpy as np

    if old.size < 2:
        diff = float(np.percentile(new, int(aggregate[1:])) - np.percentile(old, int(aggregate[1:])))
        return diff, diff
    q = int(aggregate[1:])
    index = np.random.default_rng(SEED).integers(0, old.size, size=(resamples, old.size))
    draws = np.percentile(new[index], q, axis=1) - np.percentile(old[index], q, axis=1)
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(low), float(high)


def regression_verdict(old: Sequence[float], new: Sequence[float], max_drop: float, alpha: float,
                       aggregate: str = "mean", sign: int = 1) -> tuple[bool, PairedComparison]:
    """(failed, comparison). Fails when the metric got worse (in its direction) by more than
    max_drop and the paired test rejects H0: "worse by exactly max_drop" in favour of "worse by
    more" at level alpha."""
    result = compare(old, new, shift=max_drop, alternative="less", aggregate=aggregate, sign=sign)
    failed = sign * result.diff < -max_drop and result.p_value < alpha
    return failed, result
