"""The verdict's rules on hand-made runs: a significant paired difference is stated as one, a
difference whose CI includes 0 is said to be not significant, directions and units are read from
the metric specs."""

from __future__ import annotations

from evalkit.analysis.summary import summarize
from evalkit.analysis.verdict import verdict
from evalkit.core.records import Output, Sample, Score
from evalkit.core.run import CandidateInfo, RunManifest, SuiteInfo
from evalkit.core.specs import MetricSpec
from evalkit.metrics.operational import OPERATIONAL

F1 = MetricSpec(name="token_f1", base="token_f1")
STALE = MetricSpec(name="stale_answer_rate", base="stale_answer_rate", direction="lower")
CHECK = MetricSpec(name="check_json", base="check", unit="pass")


def run(values: dict[str, dict[str, list[float]]], latency: dict[str, float]) -> list[str]:
    manifest = RunManifest(run_id="r", suite=SuiteInfo(name="s"), n_cases=40,
                           candidates=[CandidateInfo(name=name) for name in values],
                           metrics=[F1, STALE, CHECK, *OPERATIONAL])
    samples = [Sample(candidate=name, case_id=f"c{i}", question="q",
                      output=Output(latency_s=latency[name], cost_usd=0.002),
                      scores={metric: Score(value=v[i]) for metric, v in metrics.items()})
               for name, metrics in values.items() for i in range(40)]
    return verdict(manifest, summarize(manifest, samples), samples)


def test_a_clear_difference_is_stated_and_a_small_one_is_not_significant() -> None:
    lines = run({
        "rag": {"token_f1": [0.9, 0.8] * 20, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 30 + [0.0] * 10},
        "closed": {"token_f1": [0.3, 0.5] * 20, "stale_answer_rate": [0.0] * 39 + [1.0], "check_json": [1.0] * 40},
    }, {"rag": 0.42, "closed": 0.11})
    assert lines[0] == "rag scores token_f1 45 points higher than closed (95% CI 41 to 50, 40 cases)"  # SE 2.4 points
    assert lines[1].startswith("stale_answer_rate: rag and closed differ by 2 points, not significant (95% CI ")
    assert lines[2] == "answers failing a format check: rag 25%, closed 0%"
    assert lines[3] == "p50 latency: rag 420.0 ms, $2.00 per 1,000 answers; closed 110.0 ms, $2.00 per 1,000 answers"


def test_a_lower_is_better_metric_names_the_lower_candidate_best() -> None:
    lines = run({
        "fresh": {"token_f1": [0.5] * 40, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 40},
        "stale": {"token_f1": [0.5] * 40, "stale_answer_rate": [1.0, 0.0] * 20, "check_json": [1.0] * 40},
    }, {"fresh": 0.1, "stale": 0.1})
    assert lines[0] == "token_f1: fresh and stale are the same on every case (40 cases)"
    assert lines[1] == "fresh scores stale_answer_rate 50 points lower than stale (95% CI 35 to 65, 40 cases)"
