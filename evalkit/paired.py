"""Paired comparison of two runs on the same cases: difference, its CI, and a sign-flip test.

For per-case differences d_i = new_i - old_i the mean difference is reported with a paired
bootstrap 95% CI. The p-value comes from a sign-flip permutation test, which is exact when the
differences are symmetric under the null hypothesis (the usual paired-permutation assumption).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.stats import SEED, mean_ci

PERMUTATIONS = 4000
EXACT_UP_TO = 16  # cases; 2**16 sign patterns are cheap to enumerate


@dataclass
class PairedComparison:
    n: int  # matched cases with a score in both runs
    mean_old: float
    mean_new: float
    diff: float  # mean_new - mean_old
    ci_low: float
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


def compare(old: Sequence[float], new: Sequence[float], shift: float = 0.0,
            alternative: str = "two-sided") -> PairedComparison:
    """Compare paired scores (old[i] and new[i] belong to the same case)."""
    import numpy as np

    old_a, new_a = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    differences = new_a - old_a
    diff, low, high = mean_ci(differences)
    p = sign_flip_p(differences, shift, alternative)
    return PairedComparison(len(differences), float(old_a.mean()), float(new_a.mean()), diff, low, high, p)


def regression_verdict(old: Sequence[float], new: Sequence[float], max_drop: float,
                       alpha: float) -> tuple[bool, PairedComparison]:
    """(failed, comparison). Fails when the mean drop exceeds max_drop and the sign-flip test
    rejects H0: drop = max_drop in favour of a larger drop at level alpha."""
    result = compare(old, new, shift=max_drop, alternative="less")
    failed = result.diff < -max_drop and result.p_value < alpha
    return failed, result
