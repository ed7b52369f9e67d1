"""Gate verdicts: thresholds on a metric's mean or CI bound, and no-regression against a baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.results import CandidateSummary, Run
    from evalkit.suite import GateSpec


@dataclass
class Verdict:
    candidate: str
    metric: str
    rule: str  # e.g. "ci_low >= 0.6" or "no drop > 0.02 vs production (alpha 0.05)"
    value: float | None  # the statistic compared, or the mean difference for no_regression
    passed: bool
    message: str


def per_case_scores(samples: list[dict[str, Any]], candidate: str, metric: str) -> dict[str, float]:
    return {s["case_id"]: s["scores"][metric]["value"] for s in samples
            if s["candidate"] == candidate and s["scores"].get(metric, {}).get("value") is not None}


def _threshold(gate: GateSpec, summary: CandidateSummary) -> Verdict:
    agg = summary.metrics[gate.metric]
    value = getattr(agg, gate.statistic)
    rules = [f"{gate.statistic} >= {gate.min:g}"] if gate.min is not None else []
    rules += [f"{gate.statistic} <= {gate.max:g}"] if gate.max is not None else []
    rule = " and ".join(rules)
    if value is None:
        return Verdict(summary.name, gate.metric, rule, None, False, f"no scored samples ({agg.n_errors} errored)")
    passed = (gate.min is None or value >= gate.min) and (gate.max is None or value <= gate.max)
    return Verdict(summary.name, gate.metric, rule, value, passed,
                   f"{gate.metric} {gate.statistic} = {value:.4f}, needs {rule}")


def _regression(gate: GateSpec, candidate: str, samples: list[dict[str, Any]], baseline: Run | None,
                baseline_name: str) -> Verdict:
    from evalkit.paired import regression_verdict

    assert gate.no_regression is not None
    rule_spec = gate.no_regression
    rule = f"no drop > {rule_spec.max_drop:g} vs {baseline_name} (alpha {rule_spec.alpha:g})"
    if baseline is None:
        return Verdict(candidate, gate.metric, rule, None, False,
                       f"baseline '{baseline_name}' not found (promote one with `evalkit baseline promote RUN`)")
    new = per_case_scores(samples, candidate, gate.metric)
    old = per_case_scores(baseline.samples, candidate, gate.metric)
    matched = sorted(set(new) & set(old))
    unmatched = len(set(new) ^ set(old))
    if not matched:
        return Verdict(candidate, gate.metric, rule, None, False,
                       f"no case scored in both this run and baseline {baseline.header['run_id']}")
    failed, result = regression_verdict([old[c] for c in matched], [new[c] for c in matched],
                                        rule_spec.max_drop, rule_spec.alpha)
    message = (f"{gate.metric} change {result.diff:+.4f} [{result.ci_low:+.4f}, {result.ci_high:+.4f}] "
               f"vs baseline {baseline.header['run_id']}, p = {result.p_value:.4f}, "
               f"{result.n} matched cases, {unmatched} unmatched")
    return Verdict(candidate, gate.metric, rule, result.diff, not failed, message)


BaselineResolver = Callable[[str | None], "tuple[str, Run | None]"]


def evaluate_gates(gates: list[GateSpec], summaries: list[CandidateSummary], samples: list[dict[str, Any]],
                   resolve_baseline: BaselineResolver | None = None) -> list[Verdict]:
    """One verdict per gate rule and candidate it applies to. A metric with no scored sample fails,
    and so does a no-regression gate whose baseline cannot be found."""
    verdicts = []
    for gate in gates:
        baseline_name, baseline = "production", None
        if gate.no_regression is not None and resolve_baseline is not None:
            baseline_name, baseline = resolve_baseline(gate.no_regression.baseline)
        for summary in summaries:
            if gate.candidate is not None and gate.candidate != summary.name:
                continue
            if gate.min is not None or gate.max is not None:
                verdicts.append(_threshold(gate, summary))
            if gate.no_regression is not None:
                verdicts.append(_regression(gate, summary.name, samples, baseline, baseline_name))
    return verdicts


def verdicts_to_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]
