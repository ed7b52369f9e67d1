"""Abstention: does a system decline the questions its sources cannot answer, and only those?

A case marked `answerable: false` should be declined; `distractors` are tempting wrong answers to
it. Whether an answer declines is read by `declines()`: an empty answer, or one that contains a
declining phrase (`abstention: {phrases: [...], empty: true}` in a suite; the default phrases are
the common ones: "I don't know", "cannot answer", "the passages do not say", ...), compared after
the SQuAD normalisation (case, punctuation, articles).

- `abstain_rate_unanswerable`: on unanswerable cases, 1 when the answer declines.
- `false_abstain_rate` (lower is better): on answerable cases, 1 when the answer declines.
- `distractor_rate` (lower is better): on unanswerable cases with distractors, 1 when the answer
  gives one of them (a declined answer gives none).
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.core.records import Case, Output, Score
from evalkit.core.specs import AbstentionSpec, MetricSpec
from evalkit.core.text import normalize_answer
from evalkit.metrics.base import MetricContext, metric_registry


def _contains(text: str, phrase: str) -> bool:
    """Whole-word containment of a normalised phrase in a normalised text."""
    return bool(phrase) and f" {phrase} " in f" {text} "


def declines(answer: str, spec: AbstentionSpec) -> bool:
    text = normalize_answer(answer)
    if not text:
        return spec.empty
    return any(_contains(text, normalize_answer(phrase)) for phrase in spec.phrases)


def gives_distractor(answer: str, distractors: list[str], spec: AbstentionSpec) -> bool:
    if declines(answer, spec):
        return False
    text = normalize_answer(answer)
    return any(_contains(text, normalize_answer(d)) for d in distractors)


@dataclass
class AbstentionMetric:
    spec: MetricSpec
    abstention: AbstentionSpec

    async def score(self, case: Case, output: Output) -> Score:
        if self.spec.base == "distractor_rate":
            if not case.distractors:
                return Score(skipped="the case has no distractors")
            return Score(value=float(gives_distractor(output.answer, case.distractors, self.abstention)))
        return Score(value=float(declines(output.answer, self.abstention)))


_KINDS = {"abstain_rate_unanswerable": ("higher", "unanswerable"), "false_abstain_rate": ("lower", "answerable"),
          "distractor_rate": ("lower", "unanswerable")}

for _base, (_direction, _cases) in _KINDS.items():

    def _factory(name: str, k: int | None, context: MetricContext, base: str = _base, direction: str = _direction,
                 cases: str = _cases) -> AbstentionMetric:
        # the phrases are parameters: changing them changes the metric (and misses its cached scores)
        spec = MetricSpec(name=name, base=base, direction=direction, needs=(cases,),  # type: ignore[arg-type]
                          params=context.abstention.model_dump(mode="json"))
        return AbstentionMetric(spec, context.abstention)

    metric_registry.register(_base)(_factory)
