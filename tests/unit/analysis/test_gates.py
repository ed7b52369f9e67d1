"""Gate rules on hand-computable runs: thresholds, CI bounds, no-regression (in the metric's own
direction), missing baselines, noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.analysis.gates import evaluate_gates
from evalkit.analysis.summary import summarize
from evalkit.core.records import Output, Sample, Score
from evalkit.core.run import CandidateInfo, Run, RunManifest, SuiteInfo
from evalkit.core.specs import GateSpec, MetricSpec
from evalkit.metrics.operational import OPERATIONAL

RECALL = MetricSpec(name="recall@5", base="recall", params={"k": 5})


def manifest(gates: list[dict], run_id: str = "new") -> RunManifest:
    return RunManifest(run_id=run_id, suite=SuiteInfo(name="s"), n_cases=4,
                       candidates=[CandidateInfo(name="a"), CandidateInfo(name="b")],
                       metrics=[RECALL, *OPERATIONAL], gates=[GateSpec.model_validate(g) for g in gates])


def samples(values: dict[str, list[float | None]], latencies: list[float] | None = None) -> list[Sample]:
    rows = []
    for candidate, scores in values.items():
        for i, value in enumerate(scores):
            score = Score(value=value) if value is not None else Score(error="boom")
            latency = latencies[i] if latencies else 0.0
            rows.append(Sample(candidate=candidate, case_id=f"c{i}", question="q",
                               output=Output(latency_s=latency), scores={"recall@5": score}))
    return rows


def verdicts(gates: list[dict], values: dict[str, list[float | None]], baseline: Run | None = None,
             latencies: list[float] | None = None):
    rows = samples(values, latencies)
    run_manifest = manifest(gates)
    return evaluate_gates(run_manifest, summarize(run_manifest, rows), rows,
                          lambda ref: (ref or "production", baseline))


def baseline_run(values: dict[str, list[float | None]], latencies: list[float] | None = None) -> Run:
    return Run(folder=Path("."), manifest=manifest([], "base"), samples=samples(values, latencies))


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
    baseline = baseline_run({"a": [1.0] * 4, "b": [1.0] * 4})
    gate = {"metric": "recall@5", "no_regression": {"max_drop": 0.1, "alpha": 0.2}}
    result = verdicts([gate], {"a": [1.0, 1.0, 1.0, 0.95], "b": [0.0, 0.0, 0.0, 1.0]}, baseline)
    a, b = result
    assert a.passed and a.value == pytest.approx(-0.0125)
    assert not b.passed and b.value == pytest.approx(-0.75)
    assert b.message.startswith("recall@5 change -0.7500 [") and "vs baseline base, p = 0.1250" in b.message  # exact: 2 of 16 sign patterns
    assert b.message.endswith("4 matched cases, 0 unmatched")


def test_no_regression_on_latency_p50_fails_when_it_rises_and_passes_when_it_falls() -> None:
    """latency_p50 is lower-is-better: a slower run is the regression, a faster one is not."""
    cases = 20
    old = [0.100 + 0.001 * i for i in range(cases)]
    baseline = baseline_run({"a": [1.0] * cases, "b": [1.0] * cases}, old)
    gate = {"metric": "latency_p50", "no_regression": {"max_drop": 0.01, "alpha": 0.05}}
    slower = verdicts([gate], {"a": [1.0] * cases, "b": [1.0] * cases}, baseline, [t + 0.050 for t in old])
    faster = verdicts([gate], {"a": [1.0] * cases, "b": [1.0] * cases}, baseline, [t - 0.050 for t in old])
    assert [v.passed for v in slower] == [False, False]
    assert slower[0].value == pytest.approx(0.050) and slower[0].rule.startswith("no rise > 0.01")
    assert "(lower is better)" in slower[0].message
    assert [v.passed for v in faster] == [True, True] and faster[0].value == pytest.approx(-0.050)
    # a threshold on it reads the percentile, named as such
    (a, _) = verdicts([{"metric": "latency_p50", "max": 0.2}], {"a": [1.0] * cases, "b": [1.0] * cases},
                      latencies=old)
    assert a.passed and a.message == f"latency_p50 = {0.1095:.4f}, needs mean <= 0.2"


def test_missing_baseline_fails_unless_the_gate_lets_a_first_run_pass() -> None:
    result = verdicts([{"metric": "recall@5", "no_regression": {}}], {"a": [1.0] * 4, "b": [1.0] * 4})
    assert not any(v.passed for v in result)
    assert result[0].message.startswith("recall@5: baseline 'production' not found")  # names its metric
    first = verdicts([{"metric": "recall@5", "no_regression": {"if_no_baseline": "pass"}}],
                     {"a": [1.0] * 4, "b": [1.0] * 4})
    assert all(v.passed for v in first) and "if_no_baseline: pass" in first[0].message


def test_beyond_noise_needs_a_drop_larger_than_twice_the_measured_sd() -> None:
    from evalkit.analysis.noise import measure

    baseline = baseline_run({"a": [1.0] * 4, "b": [1.0] * 4})
    values = {"a": [0.9] * 4, "b": [0.9] * 4}  # a significant drop of 0.1 for both
    rows = samples(values)
    run_manifest = manifest([{"metric": "recall@5", "no_regression": {"beyond_noise": True, "alpha": 0.1}}])
    repeat_1 = summarize(run_manifest, rows)
    repeat_2 = summarize(run_manifest, samples({"a": [0.9] * 4, "b": [0.6] * 4}))
    noise = measure([repeat_1, repeat_2])
    assert noise["a"]["recall@5"]["sd"] == 0.0 and noise["b"]["recall@5"]["sd"] == pytest.approx(0.2121, abs=1e-4)
    a, b = evaluate_gates(run_manifest, repeat_1, rows, lambda ref: ("production", baseline), noise)
    assert not a.passed  # 0.1 drop, no noise
    assert b.passed and "noise 2 x sd = 0.4243" in b.message  # 0.1 drop is within this candidate's noise
