"""Gate verdicts: thresholds on a metric's mean or a bound of its confidence interval."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.results import CandidateSummary
    from evalkit.suite import GateSpec


@dataclass
class Verdict:
    candidate: str
    metric: str
    rule: str  # e.g. "ci_low >= 0.6"
    value: float | None
    passed: bool
    message: str


def evaluate_gates(gates: list[GateSpec], summaries: list[CandidateSummary]) -> list[Verdict]:
    """One verdict per gate and candidate it applies to. A metric with no scored sample fails."""
    verdicts = []
    for gate in gates:
        for summary in summaries:
            if gate.candidate is not None and gate.candidate != summary.name:
                continue
            agg = summary.metrics[gate.metric]
            value = getattr(agg, gate.statistic)
            rules = [f"{gate.statistic} >= {gate.min:g}"] if gate.min is not None else []
            rules += [f"{gate.statistic} <= {gate.max:g}"] if gate.max is not None else []
            rule = " and ".join(rules)
            if value is None:
                verdicts.append(Verdict(summary.name, gate.metric, rule, None, False,
                                        f"no scored samples ({agg.n_errors} errored)"))
                continue
            passed = (gate.min is None or value >= gate.min) and (gate.max is None or value <= gate.max)
            message = f"{gate.metric} {gate.statistic} = {value:.4f}, needs {rule}"
            verdicts.append(Verdict(summary.name, gate.metric, rule, value, passed, message))
    return verdicts


def verdicts_to_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) for v in verdicts]
