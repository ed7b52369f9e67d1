"""Gate verdicts: thresholds on a metric's statistic or CI bound, and no-regression against a baseline.

Every rule reads the metric's direction from its spec: for a lower-is-better metric (latency,
cost) a regression is an increase.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalkit.analysis.values import per_case_values
from evalkit.core.records import Sample
from evalkit.core.run import CandidateSummary, Run, RunManifest, Verdict
from evalkit.core.specs import GateSpec, MetricSpec

BaselineResolver = Callable[[str | None], "tuple[str, Run | None]"]  # reference -> (its name, the run)


def threshold_rule(gate: GateSpec) -> str:
    rules = [f"{gate.statistic} >= {gate.min:g}"] if gate.min is not None else []
    rules += [f"{gate.statistic} <= {gate.max:g}"] if gate.max is not None else []
    return " and ".join(rules)


def applies_to(gate: GateSpec, candidates: list[str]) -> list[tuple[str, str]]:
    """(candidate, kind) pairs a gate yields verdicts for, in verdict order."""
    kinds = (["threshold"] if gate.min is not None or gate.max is not None else []) + (
        ["no_regression"] if gate.no_regression is not None else [])
    return [(c, kind) for c in candidates if gate.candidate in (None, c) for kind in kinds]


def _threshold(index: int, gate: GateSpec, spec: MetricSpec, summary: CandidateSummary) -> Verdict:
    aggregate = summary.metrics[gate.metric]
    if gate.statistic.startswith("ppi"):
        ppi = aggregate.ppi
        value = None if ppi is None else getattr(ppi, "value" if gate.statistic == "ppi" else gate.statistic[4:])
    else:
        value = aggregate.value if gate.statistic == "mean" else getattr(aggregate, gate.statistic)
    rule = threshold_rule(gate)
    verdict = Verdict(gate=index, kind="threshold", candidate=summary.name, metric=gate.metric, rule=rule,
                      value=value)
    if value is None:
        verdict.message = (f"no PPI estimate: fewer than 2 current human labels of {gate.metric} for this candidate"
                           if gate.statistic.startswith("ppi") else f"no scored samples ({aggregate.n_errors} errored)")
        return verdict
    verdict.passed = (gate.min is None or value >= gate.min) and (gate.max is None or value <= gate.max)
    # "latency_p50 = 0.41", not "latency_p50 mean = 0.41": the point estimate of a percentile metric is no mean
    label = gate.metric if gate.statistic == "mean" and spec.aggregate != "mean" else f"{gate.metric} {gate.statistic}"
    verdict.message = f"{label} = {value:.4f}, needs {rule}"
    return verdict


def _regression(index: int, gate: GateSpec, spec: MetricSpec, candidate: str, samples: list[Sample],
                baseline: Run | None, baseline_name: str, noise: dict[str, Any] | None) -> Verdict:
    from evalkit.analysis.paired import regression_verdict

    assert gate.no_regression is not None
    rule_spec = gate.no_regression
    worse = "drop" if spec.direction == "higher" else "rise"
    rule = f"no {worse} > {rule_spec.max_drop:g} vs {baseline_name} (alpha {rule_spec.alpha:g})"
    verdict = Verdict(gate=index, kind="no_regression", candidate=candidate, metric=gate.metric, rule=rule)
    if baseline is None:
        verdict.passed = rule_spec.if_no_baseline == "pass"
        verdict.message = (f"{gate.metric}: baseline '{baseline_name}' not found"
                           + (", and the gate says to pass without one (if_no_baseline: pass)" if verdict.passed
                              else " (promote one with `evalkit baseline promote RUN`, or let a first run pass "
                                   "with if_no_baseline: pass)"))
        return verdict
    new = per_case_values(samples, candidate, spec)
    old = per_case_values(baseline.samples, candidate, spec)
    matched = sorted(set(new) & set(old))
    unmatched = len(set(new) ^ set(old))
    if not matched:
        verdict.message = f"{gate.metric}: no case scored in both this run and baseline {baseline.run_id}"
        return verdict
    failed, result = regression_verdict([old[c] for c in matched], [new[c] for c in matched],
                                        rule_spec.max_drop, rule_spec.alpha, spec.aggregate, spec.sign)
    message = (f"{gate.metric} change {result.diff:+.4f} [{result.ci_low:+.4f}, {result.ci_high:+.4f}] "
               f"vs baseline {baseline.run_id}, p = {result.p_value:.4f}, "
               f"{result.n} matched cases, {unmatched} unmatched")
    if spec.direction == "lower":
        message += " (lower is better)"
    if rule_spec.beyond_noise:
        measured = (noise or {}).get(candidate, {}).get(gate.metric)
        if measured is None:
            message += "; no noise measured (run with --repeat N), so beyond_noise is not applied"
        else:
            floor = 2 * measured["sd"]
            message += f"; noise 2 x sd = {floor:.4f}"
            failed = failed and -spec.sign * result.diff > floor
    verdict.value, verdict.passed, verdict.message = result.diff, not failed, message
    return verdict


def evaluate_gates(manifest: RunManifest, summaries: list[CandidateSummary], samples: list[Sample],
                   resolve_baseline: BaselineResolver | None = None,
                   noise: dict[str, Any] | None = None) -> list[Verdict]:
    """One verdict per gate rule and candidate it applies to. A metric with no scored sample fails,
    and so does a no-regression gate whose baseline cannot be found."""
    verdicts = []
    by_name = {s.name: s for s in summaries}
    for index, gate in enumerate(manifest.gates):
        spec = manifest.metric(gate.metric)
        baseline_name, baseline = "production", None
        if gate.no_regression is not None and resolve_baseline is not None:
            baseline_name, baseline = resolve_baseline(gate.no_regression.baseline)
        for candidate, kind in applies_to(gate, list(by_name)):
            if reason := by_name[candidate].skipped:
                allowed = " (allowed by --allow-skipped)" if manifest.allow_skipped else ""
                verdicts.append(Verdict(gate=index, kind=kind, candidate=candidate, metric=gate.metric,
                                        rule=threshold_rule(gate) or "no_regression", passed=manifest.allow_skipped,
                                        message=f"candidate skipped: {reason}{allowed}"))
            elif kind == "threshold":
                verdicts.append(_threshold(index, gate, spec, by_name[candidate]))
            else:
                verdicts.append(_regression(index, gate, spec, candidate, samples, baseline, baseline_name, noise))
    return verdicts + case_verdicts(samples)


def case_verdicts(samples: list[Sample]) -> list[Verdict]:
    """One verdict per expectation of a case (`expect:`) and candidate that answered it: its score
    must meet the bound; a score that errored or does not apply does not meet it."""
    verdicts = []
    for sample in sorted(samples, key=lambda s: (s.candidate, s.position, s.case_id)):
        for expectation in sample.expect:
            score = sample.scores.get(expectation.metric)
            value = score.value if score is not None else None
            rule = f"case {sample.case_id}: {expectation.metric} {expectation.rule}"
            verdict = Verdict(gate=-1, kind="case", candidate=sample.candidate, metric=expectation.metric, rule=rule,
                              value=value, case_id=sample.case_id)
            if value is None:
                why = (score.error or score.skipped) if score is not None else "not scored"
                verdict.message = f"case {sample.case_id}: {expectation.metric} has no value ({why})"
            else:
                verdict.passed = expectation.met(value)
                verdict.message = f"case {sample.case_id}: {expectation.metric} = {value:.4f}, needs {expectation.rule}"
            verdicts.append(verdict)
    return verdicts
