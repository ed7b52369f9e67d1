"""The no-regression rule's statistics hold in seeded simulations, and match hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.analysis.paired import compare, regression_verdict, sign_flip_p


def test_sign_flip_p_by_hand() -> None:
    # 3 differences, all negative: of the 8 sign patterns only the observed one has mean <= observed
    d = [-1.0, -2.0, -3.0]
    exact = 1 / 8
    assert sign_flip_p(d, alternative="less", permutations=20000) == pytest.approx(exact, abs=0.01)
    assert sign_flip_p(d, alternative="two-sided", permutations=20000) == pytest.approx(2 * exact, abs=0.01)
    assert sign_flip_p([0.0, 0.0]) == 1.0


def test_compare_reports_difference_and_interval() -> None:
    result = compare([0.5, 0.5, 0.5, 0.5], [0.6, 0.7, 0.5, 0.6])
    assert result.n == 4 and result.diff == pytest.approx(0.1) and result.mean_new == pytest.approx(0.6)
    assert result.ci_low <= 0.1 <= result.ci_high


def test_tolerated_drop_passes_and_large_drop_fails() -> None:
    old = [0.8] * 100
    failed, _ = regression_verdict(old, [0.79] * 100, max_drop=0.02, alpha=0.05)
    assert not failed  # dropped 0.01, within max_drop
    failed, result = regression_verdict(old, [0.7] * 100, max_drop=0.02, alpha=0.05)
    assert failed and result.p_value < 0.05


def _scores(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-case quality q in [0.2, 0.8]; each run measures it with noise (sd 0.15), clipped to [0, 1]."""
    quality = rng.uniform(0.2, 0.8, n)
    old = np.clip(quality + rng.normal(0, 0.15, n), 0, 1)
    new = np.clip(quality - drop + rng.normal(0, 0.15, n), 0, 1)
    return old, new


def test_false_alarm_rate_without_true_difference() -> None:
    rng = np.random.default_rng(11)
    alarms = sum(regression_verdict(*_scores(rng, 200, 0.0), max_drop=0.0, alpha=0.05)[0] for _ in range(1000))
    assert alarms / 1000 <= 0.06


def test_false_alarm_rate_on_binary_scores() -> None:
    rng = np.random.default_rng(8)
    alarms = 0
    for _ in range(1000):
        p = rng.uniform(0.3, 0.9, 200)  # a hit_rate-like metric: each case hit with its own probability
        old, new = rng.binomial(1, p).astype(float), rng.binomial(1, p).astype(float)
        alarms += regression_verdict(old, new, max_drop=0.0, alpha=0.05)[0]
    assert alarms / 1000 <= 0.06


def test_detects_a_true_drop_of_005_on_200_cases() -> None:
    rng = np.random.default_rng(9)
    detected = sum(regression_verdict(*_scores(rng, 200, 0.05), max_drop=0.0, alpha=0.05)[0] for _ in range(1000))
    assert detected / 1000 >= 0.80
