"""Specs: what a metric is (direction, unit, what it needs) and what a gate asks of it.

A spec is data: it is recorded in the run manifest, so a saved run says exactly what was measured
and how, and gates, comparisons and paired tests read the direction from it instead of assuming
that higher is better.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Direction = Literal["higher", "lower"]
Aggregate = Literal["mean", "p50", "p95"]
# case fields a metric cannot do without (a case lacking one makes the metric not applicable),
# and what it reads from the output or needs from the run
# ("declines": an unanswerable case needs no expected answer: it is scored on whether the answer declines)
Need = Literal["expected_sources", "expected_answer", "ranked_ids", "answer", "passages", "judge", "answerable",
               "unanswerable", "declines"]
CASE_NEEDS: tuple[Need, ...] = ("expected_sources", "expected_answer")


class MetricSpec(BaseModel):
    """One metric as a run computes it. `name` is as written in the suite (e.g. `recall@10`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    base: str  # the registered metric, e.g. `recall`
    params: dict[str, Any] = Field(default_factory=dict)  # e.g. {"k": 10}
    direction: Direction = "higher"
    unit: str = "score"  # "score" (0..1), "s", "usd"
    aggregate: Aggregate = "mean"  # the statistic over samples: the mean, or a percentile
    needs: tuple[Need, ...] = ()
    judge: str | None = None  # the judge behind a judged metric
    # where a sample's value comes from: its score, or its output's latency or cost
    source: Literal["score", "latency_s", "cost_usd"] = "score"
    version: int = 1  # bumped when the metric's definition changes, so stored scores are not reused

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is: `sign * (new - old)` is the improvement."""
        return 1 if self.direction == "higher" else -1

    @property
    def case_needs(self) -> tuple[Need, ...]:
        return tuple(need for need in self.needs if need in CASE_NEEDS)


DECLINES = ("i don't know", "i do not know", "cannot answer", "can't answer", "unable to answer",
            "not enough information", "do not say", "don't say", "does not say", "doesn't say", "not mentioned",
            "no answer", "cannot be determined", "do not contain", "don't contain", "does not contain",
            "not stated", "no information")


class AbstentionSpec(BaseModel):
    """How an answer that declines is recognised: `abstention:` in a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    phrases: tuple[str, ...] = DECLINES  # an answer containing one of these (case and punctuation aside) declines
    empty: bool = True  # an empty answer declines


class CheckSpec(BaseModel):
    """A format or style check on the answer: `checks:` in a suite (every case) or in a case (that
    case). Each check is a pass/fail metric `check_<name>`; every rule it names must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)  # the check's metric is check_<name>
    json_schema: dict[str, Any] | None = None  # the answer is JSON valid against it (a file path in the suite)
    regex: str | None = None  # the answer matches it somewhere (re.search)
    max_words: int | None = Field(default=None, ge=1)  # the answer has at most this many words
    max_chars: int | None = Field(default=None, ge=1)  # the answer has at most this many characters
    contains: list[str] | None = None  # the answer contains these strings (see match)
    not_contains: list[str] | None = None  # the answer contains none of these (case-insensitive)
    match: Literal["any", "all"] = "any"  # for contains: any or all of the strings (case-insensitive)
    starts_with: str | None = None  # the answer starts with this (leading spaces aside)

    @model_validator(mode="after")
    def _has_rule(self) -> CheckSpec:
        rules = ("json_schema", "regex", "max_words", "max_chars", "contains", "not_contains", "starts_with")
        if all(getattr(self, rule) is None for rule in rules):
            raise ValueError(f"a check needs a rule: one of {', '.join(rules)}")
        return self

    @property
    def metric(self) -> str:
        return f"check_{self.name}"


class BudgetSpec(BaseModel):
    """A cap on what a run spends: `budget:` in a suite (or --max-usd). When reached, no new sample
    starts; the ones in flight finish, the run stops as incomplete (exit 3) and can be resumed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_usd: float | None = Field(default=None, gt=0)  # priced model calls, candidates and judge together
    max_calls: int | None = Field(default=None, ge=1)  # model calls sent, retries included

    def reached(self, spent_usd: float, calls: int) -> str | None:
        """Why no more work may start, or None."""
        if self.max_usd is not None and spent_usd >= self.max_usd:
            return f"budget reached: ${spent_usd:.4f} spent of max_usd ${self.max_usd:g}"
        if self.max_calls is not None and calls >= self.max_calls:
            return f"budget reached: {calls} model calls of max_calls {self.max_calls}"
        return None


class NoRegression(BaseModel):
    """Fail when the metric got worse against a baseline run by more than max_drop, significantly."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    baseline: str | None = None  # run folder, MLflow run id or baseline name; default: --baseline, else "production"
    max_drop: float = Field(default=0.0, ge=0)  # in the metric's unit, in its worse direction
    alpha: float = Field(default=0.05, gt=0, lt=1)  # significance level of the paired test
    beyond_noise: bool = False  # also require the drop to exceed 2 x the run-to-run sd from --repeat
    # what a run with no baseline yet does: fail (a missing baseline is a mistake) or pass (the first
    # run of a new suite, which becomes the baseline once promoted)
    if_no_baseline: Literal["fail", "pass"] = "fail"


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str  # a metric of the suite (latency_p95 and cost too)
    min: float | None = None  # the statistic must be at least this
    max: float | None = None  # the statistic must be at most this
    # what min/max apply to: the metric's point estimate ("mean": its mean, or its percentile for
    # latency_p50 and the like) or a bound of its 95% CI; with human labels, the PPI estimate or its bounds
    statistic: Literal["mean", "ci_low", "ci_high", "ppi", "ppi_ci_low", "ppi_ci_high"] = "mean"
    no_regression: NoRegression | None = None  # fail when the metric got significantly worse than a baseline run
    candidate: str | None = None  # None: every candidate

    @model_validator(mode="after")
    def _has_rule(self) -> GateSpec:
        if self.min is None and self.max is None and self.no_regression is None:
            raise ValueError("a gate needs 'min', 'max' or 'no_regression'")
        return self


class VerdictSpec(BaseModel):
    """Which candidates the verdict compares: by default the best on each headline metric against
    every other; `pairs` names the comparisons a team wants instead, [old, new] each."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # [old, new] candidate names, each pair compared on every headline metric
    pairs: list[tuple[str, str]] = Field(default_factory=list)


class Expectation(BaseModel):
    """A bound that one case's score must meet (`expect:` on a case): its own pytest item and JUnit
    test case, and a failed run (exit 1) when it is not met, like a gate on that case alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str  # a metric of the suite
    min: float | None = None  # this case's score must be at least this
    max: float | None = None  # this case's score must be at most this

    @model_validator(mode="after")
    def _bounded(self) -> Expectation:
        if self.min is None and self.max is None:
            raise ValueError("an expectation needs 'min' or 'max'")
        return self

    @property
    def rule(self) -> str:
        return " and ".join(([f">= {self.min:g}"] if self.min is not None else [])
                            + ([f"<= {self.max:g}"] if self.max is not None else []))

    def met(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
