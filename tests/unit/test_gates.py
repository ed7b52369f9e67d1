"""Gate rules on hand-computable runs: thresholds, CI bounds, no-regression, missing baselines."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.gates import evaluate_gates
from evalkit.results import Run, aggregate
from evalkit.suite import GateSpec

HEADER = {"run_id": "base", "n_cases": 4, "candidates": [{"name": "a"}, {"name": "b"}],
          "metrics": [{"name": "recall@5", "judge": None}]}


def samples(values: dict[str, list[float | None]]) -> list[dict]:
    rows = []
    for candidate, scores in values.items():
        for i, value in enumerate(scores):
            score = {"value": value} if value is not None else {"error": "boom"}
            rows.append({"candidate": candidate, "case_id": f"c{i}", "output": {"latency_s": 0.0},
                         "scores": {"recall@5": score}})
    return rows


def verdicts(gates: list[dict], values: dict[str, list[float | None]], baseline: Run | None = None):
    rows = samples(values)
    return evaluate_gates([GateSpec.model_validate(g) for g in gates], aggregate(HEADER, rows), rows,
                          lambda ref: (ref or "production", baseline))


def test_min_on_mean_per_candidate() -> None:
    result = verdicts([{"metric": "recall@5", "min": 0.5}], {"a": [1, 0, 1, 0], "b": [0, 0, 1, 0]})
    assert [(v.candidate, v.value, v.passed) for v in result] == [("a", 0.5, True), ("b", 0.25, False)]
    assert result[1].message == "recall@5 mean = 0.2500, needs mean >= 0.5"


def test_gate_on_one_candidate_and_max() -> None:
    result = verdicts([{"metric": "recall@5", "max": 0.3, "candidate": "b"}], {"a": [1, 1, 1, 1], "b": [0, 0, 1, 0]})
    assert [(v.candidate, v.passed, v.rule) for v in result] == [("b", True, "mean <= 0.3")]


def test_ci_low_is_stricter_than_mean() -> None:
    values = {"a": [1, 1, 1, 0], "b": [1, 1, 1, 0]}
    on_mean = verdicts([{"metric": "recall@5", "min": 0.7}], values)[0]
    on_low = verdicts([{"metric": "recall@5", "min": 0.7, "statistic": "ci_low"}], values)[0]
    assert on_mean.passed and not on_low.passed and on_low.value < 0.75


def test_errors_do_not_count_and_all_errors_fail() -> None:
    result = verdicts([{"metric": "recall@5", "min": 0.9}], {"a": [1, None, 1, None], "b": [None] * 4})
    assert result[0].passed and result[0].value == 1.0
    assert not result[1].passed and result[1].message == "no scored samples (4 errored)"


def test_no_regression_against_baseline() -> None:
    baseline = Run(Path("."), {**HEADER, "run_id": "base"}, samples({"a": [1.0] * 4, "b": [1.0] * 4}), None)
    gate = {"metric": "recall@5", "no_regression": {"max_drop": 0.1, "alpha": 0.2}}
    result = verdicts([gate], {"a": [1.0, 1.0, 1.0, 0.95], "b": [0.0, 0.0, 0.0, 1.0]}, baseline)
    a, b = result
    assert a.passed and a.value == pytest.approx(-0.0125)
    assert not b.passed and b.value == pytest.approx(-0.75)
    assert b.message.startswith("recall@5 change -0.7500 [") and "vs baseline base, p = 0.1250" in b.message  # exact: 2 of 16 sign patterns
    assert b.message.endswith("4 matched cases, 0 unmatched")


def test_missing_baseline_fails() -> None:
    result = verdicts([{"metric": "recall@5", "no_regression": {}}], {"a": [1.0] * 4, "b": [1.0] * 4})
    assert not any(v.passed for v in result)
    assert result[0].message.startswith("baseline 'production' not found")


def test_beyond_noise_needs_a_drop_larger_than_twice_the_measured_sd() -> None:
    from evalkit.noise import measure

    baseline = Run(Path("."), {**HEADER, "run_id": "base"}, samples({"a": [1.0] * 4, "b": [1.0] * 4}), None)
    values = {"a": [0.9] * 4, "b": [0.9] * 4}  # a significant drop of 0.1 for both
    rows = samples(values)
    gate = GateSpec.model_validate({"metric": "recall@5", "no_regression": {"beyond_noise": True, "alpha": 0.1}})
    repeat_1, repeat_2 = aggregate(HEADER, rows), aggregate(HEADER, samples({"a": [0.9] * 4, "b": [0.6] * 4}))
    noise = measure([repeat_1, repeat_2])
    assert noise["a"]["recall@5"]["sd"] == 0.0 and noise["b"]["recall@5"]["sd"] == pytest.approx(0.2121, abs=1e-4)
    a, b = evaluate_gates([gate], repeat_1, rows, lambda ref: ("production", baseline), noise)
    assert not a.passed  # 0.1 drop, no noise
    assert b.passed and "noise 2 x sd = 0.4243" in b.message  # 0.1 drop is within this candidate's noise
