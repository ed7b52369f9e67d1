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
    gate: int  # index of the gate in the suite
    kind: str  # "threshold" | "no_regression"
    candidate: str
    metric: str
    rule: str  # e.g. "ci_low >= 0.6" or "no drop > 0.02 vs production (alpha 0.05)"
    value: float | None  # the statistic compared, or the mean difference for no_regression
    passed: bool
    message: str


def threshold_rule(gate: GateSpec) -> str:
    rules = [f"{gate.statistic} >= {gate.min:g}"] if gate.min is not None else []
    rules += [f"{gate.statistic} <= {gate.max:g}"] if gate.max is not None else []
    return " and ".join(rules)


def applies_to(gate: GateSpec, candidates: list[str]) -> list[tuple[str, str]]:
    """(candidate, kind) pairs a gate yields verdicts for, in verdict order."""
    kinds = (["threshold"] if gate.min is not None or gate.max is not None else []) + (
        ["no_regression"] if gate.no_regression is not None else [])
    return [(c, kind) for c in candidates if gate.candidate in (None, c) for kind in kinds]


def per_case_scores(samples: list[dict[str, Any]], candidate: str, metric: str) -> dict[str, float]:
    return {s["case_id"]: s["scores"][metric]["value"] for s in samples
            if s["candidate"] == candidate and s["scores"].get(metric, {}).get("value") is not None}


def _threshold(index: int, gate: GateSpec, summary: CandidateSummary) -> Verdict:
    agg = summary.metrics[gate.metric]
    value = getattr(agg, gate.statistic)
    rule = threshold_rule(gate)
    verdict = Verdict(index, "threshold", summary.name, gate.metric, rule, value, False, "")
    if value is None:
        verdict.message = f"no scored samples ({agg.n_errors} errored)"
        return verdict
    verdict.passed = (gate.min is None or value >= gate.min) and (gate.max is None or value <= gate.max)
    verdict.message = f"{gate.metric} {gate.statistic} = {value:.4f}, needs {rule}"
    return verdict


def _regression(index: int, gate: GateSpec, candidate: str, samples: list[dict[str, Any]], baseline: Run | None,
                baseline_name: str, noise: dict[str, dict[str, Any]] | None) -> Verdict:
    from evalkit.paired import regression_verdict

    assert gate.no_regression is not None
    rule_spec = gate.no_regression
    rule = f"no drop > {rule_spec.max_drop:g} vs {baseline_name} (alpha {rule_spec.alpha:g})"
    verdict = Verdict(index, "no_regression", candidate, gate.metric, rule, None, False, "")
    if baseline is None:
        verdict.message = f"baseline '{baseline_name}' not found (promote one with `evalkit baseline promote RUN`)"
        return verdict
    new = per_case_scores(samples, candidate, gate.metric)
    old = per_case_scores(baseline.samples, candidate, gate.metric)
    matched = sorted(set(new) & set(old))
    unmatched = len(set(new) ^ set(old))
    if not matched:
        verdict.message = f"no case scored in both this run and baseline {baseline.header['run_id']}"
        return verdict
    failed, result = regression_verdict([old[c] for c in matched], [new[c] for c in matched],
                                        rule_spec.max_drop, rule_spec.alpha)
    message = (f"{gate.metric} change {result.diff:+.4f} [{result.ci_low:+.4f}, {result.ci_high:+.4f}] "
               f"vs baseline {baseline.header['run_id']}, p = {result.p_value:.4f}, "
               f"{result.n} matched cases, {unmatched} unmatched")
    if rule_spec.beyond_noise:
        measured = (noise or {}).get(candidate, {}).get(gate.metric)
        if measured is None:
            message += "; no noise measured (run with --repeat N), so beyond_noise is not applied"
        else:
            floor = 2 * measured["sd"]
            message += f"; noise 2 x sd = {floor:.4f}"
            failed = failed and -result.diff > floor
    verdict.value, verdict.passed, verdict.message = result.diff, not failed, message
    return verdict


BaselineResolver = Callable[[str | None], "tuple[str, Run | None]"]


def evaluate_gates(gates: list[GateSpec], summaries: list[CandidateSummary], samples: list[dict[str, Any]],
                   resolve_baseline: BaselineResolver | None = None,
                   noise: dict[str, dict[str, Any]] | None = None, allow_skipped: bool = False) -> list[Verdict]:
    """One verdict per gate rule and candidate it applies to. A metric with no scored sample fails,
    and so does a no-regression gate whose baseline cannot be found."""
    verdicts = []
    by_name = {s.name: s for s in summaries}
    for index, gate in enumerate(gates):
        baseline_name, baseline = "production", None
        if gate.no_regression is not None and resolve_baseline is not None:
            baseline_name, baseline = resolve_baseline(gate.no_regression.baseline)
        for candidate, kind in applies_to(gate, list(by_name)):
            if reason := by_name[candidate].skipped:
                allowed = " (allowed by --allow-skipped)" if allow_skipped else ""
                verdicts.append(Verdict(index, kind, candidate, gate.metric, threshold_rule(gate) or "no_regression",
                                        None, allow_skipped, f"candidate skipped: {reason}{allowed}"))
            elif kind == "threshold":
                verdicts.append(_threshold(index, gate, by_name[candidate]))
            else:
                verdicts.append(_regression(index, gate, candidate, samples, baseline, baseline_name, noise))
    return verdicts


def verdicts_to_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]
