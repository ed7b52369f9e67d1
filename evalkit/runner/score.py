"""Score one output: every metric of the run, each as value, error or not applicable.

A candidate failure fails every metric of its sample; a case without what a metric needs makes
it not applicable; a metric or judge that raises is that score's error, never a pass.
"""

from __future__ import annotations

from evalkit.core.errors import short_error
from evalkit.core.records import Case, Output, Score
from evalkit.metrics.base import Metric


async def score_one(metric: Metric, case: Case, output: Output, judge_missing: str | None = None,
                    retrieves: bool = True) -> Score:
    if output.error:
        return Score(error=f"candidate failed: {output.error}")
    if not retrieves and "ranked_ids" in metric.spec.needs:
        return Score(skipped="closed-book: the candidate retrieves nothing")
    if metric.spec.judge and judge_missing:
        return Score(skipped=f"judge skipped: {judge_missing}")
    for needed in metric.spec.case_needs:
        if needed == "expected_answer" and not case.answerable and "declines" in metric.spec.needs:
            continue  # SQuAD 2.0: the right answer to an unanswerable question is to decline
        if not getattr(case, needed):
            return Score(skipped=f"case has no {needed}")
    if "unanswerable" in metric.spec.needs and case.answerable:
        return Score(skipped="the case is answerable")
    if "answerable" in metric.spec.needs and not case.answerable:
        return Score(skipped="the case is unanswerable")
    try:
        return await metric.score(case, output)
    except Exception as exc:  # a metric bug or a judge failure is recorded, never a pass
        return Score(error=short_error(exc))


async def score_output(metrics: list[Metric], case: Case, output: Output, judge_missing: str | None = None,
                       retrieves: bool = True) -> dict[str, Score]:
    """Every metric's score; `retrieves=False` (a closed-book candidate) makes retrieval metrics not
    applicable instead of 0."""
    return {metric.spec.name: await score_one(metric, case, output, judge_missing, retrieves) for metric in metrics}
