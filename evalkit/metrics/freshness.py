"""Freshness: is the answer the current one, and did it come from a current source?

Documents may carry `valid_from`, `valid_to` and `superseded_by`; cases may carry `stale_answers`
(answers that were right at an earlier date); the suite's `as_of` is the date that counts (today
when not given).

- `stale_answer_rate` (lower is better): on cases with stale answers, 1 when the answer gives a
  stale answer and not the expected one (SQuAD-normalised words).
- `superseded_source_rate` (lower is better): the share of retrieved documents that were not
  current at `as_of` (outside their dates, or replaced by a current document); n/a when nothing
  was retrieved or the corpus has no dated documents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from evalkit.core.corpus import Corpus
from evalkit.core.records import Case, Output, Score
from evalkit.core.specs import MetricSpec
from evalkit.core.text import normalize_answer, strip_citations
from evalkit.metrics.base import MetricContext, metric_registry


def _says(answer: str, phrase: str) -> bool:
    return bool(phrase) and f" {phrase} " in f" {answer} "


def is_stale(answer: str, expected: str | None, stale: list[str]) -> bool:
    said = normalize_answer(strip_citations(answer))
    gives_stale = any(_says(said, normalize_answer(s)) for s in stale)
    return gives_stale and not (expected and _says(said, normalize_answer(expected)))


def superseded_share(retrieved: list[str], corpus: Corpus, day: dt.date) -> float | None:
    known = [valid for doc in retrieved if (valid := corpus.valid_at(doc, day)) is not None]
    return sum(not valid for valid in known) / len(known) if known else None


@dataclass
class StaleAnswerRate:
    spec: MetricSpec

    async def score(self, case: Case, output: Output) -> Score:
        if not case.stale_answers:
            return Score(skipped="the case has no stale answers")
        return Score(value=float(is_stale(output.answer, case.expected_answer, case.stale_answers)))


@dataclass
class SupersededSourceRate:
    spec: MetricSpec
    corpus: Corpus | None
    as_of: dt.date

    async def score(self, case: Case, output: Output) -> Score:
        if self.corpus is None or not any(doc.dated for doc in self.corpus.documents.values()):
            return Score(skipped="the corpus has no dated documents")
        value = superseded_share(output.retrieved_ids, self.corpus, self.as_of)
        return Score(skipped="nothing retrieved from the corpus") if value is None else Score(value=value)


@metric_registry.register("stale_answer_rate")
def _stale(name: str, k: int | None, context: MetricContext) -> StaleAnswerRate:
    return StaleAnswerRate(MetricSpec(name=name, base="stale_answer_rate", direction="lower", needs=("answer",)))


@metric_registry.register("superseded_source_rate")
def _superseded(name: str, k: int | None, context: MetricContext) -> SupersededSourceRate:
    as_of = context.as_of or dt.date.today()
    spec = MetricSpec(name=name, base="superseded_source_rate", direction="lower", needs=("ranked_ids",),
                      params={"as_of": as_of.isoformat()})
    return SupersededSourceRate(spec, context.corpus, as_of)
