from __future__ import annotations

import numpy as np
import pytest

from evalkit.analysis.stats import mean_ci


def test_ci_contains_mean_and_is_deterministic() -> None:
    values = np.random.default_rng(0).random(300)
    mean, low, high = mean_ci(values)
    assert low < mean < high and mean == pytest.approx(values.mean())
    assert mean_ci(values) == (mean, low, high)


def test_ci_agrees_with_scipy_bootstrap() -> None:
    from scipy.stats import bootstrap

    values = np.random.default_rng(1).binomial(1, 0.7, 400).astype(float)
    _, low, high = mean_ci(values, resamples=9999)
    reference = bootstrap((values,), np.mean, method="percentile", n_resamples=9999, random_state=2).confidence_interval
    assert low == pytest.approx(reference.low, abs=0.01) and high == pytest.approx(reference.high, abs=0.01)


def test_ci_degenerate_inputs() -> None:
    assert mean_ci([0.5]) == (0.5, 0.5, 0.5)
    assert mean_ci([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        mean_ci([])
