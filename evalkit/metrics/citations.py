"""Citation metrics: does the answer cite the sources it should, and only what it retrieved?

An answer's citations are the document ids it cites: written `[doc-id]` or `[id1, id2]` in the
answer (evalkit's chat prompts ask for this form; `parse_citations` reads it), or given by the
candidate (a recorded output's `citations`, a service's reply). Every cited id is kept, also one
that was never retrieved: that is what `unsupported_citation_rate` measures.

- `citation_precision` = |cited ∩ expected| / |cited|; n/a for an answer that cites nothing.
- `citation_recall` = |cited ∩ expected| / |expected|; an answer that cites nothing scores 0.
- `unsupported_citation_rate` = |cited − retrieved| / |cited| (lower is better): the answer cites
  something it never saw; n/a for an answer that cites nothing.
- `citation_support`: the share of cited statements (the text before each group of citation marks)
  that the passages they cite support, by the suite's judge; a statement citing only documents
  that were not retrieved is unsupported. n/a for an answer that cites nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.core.judge import Judge
from evalkit.core.records import Case, Output, Score
from evalkit.core.specs import MetricSpec
from evalkit.core.text import cited_spans
from evalkit.metrics.base import MetricContext, metric_registry


def citation_precision(cited: Sequence[str], expected: set[str]) -> float | None:
    cited_set = set(cited)
    return len(cited_set & expected) / len(cited_set) if cited_set else None


def citation_recall(cited: Sequence[str], expected: set[str]) -> float:
    return len(set(cited) & expected) / len(expected)


def unsupported_citation_rate(cited: Sequence[str], retrieved: set[str]) -> float | None:
    cited_set = set(cited)
    return len(cited_set - retrieved) / len(cited_set) if cited_set else None


@dataclass
class CitationMetric:
    spec: MetricSpec

    async def score(self, case: Case, output: Output) -> Score:
        cited = output.citations
        if self.spec.base == "citation_recall":
            return Score(value=citation_recall(cited, set(case.expected_sources)))
        if self.spec.base == "citation_precision":
            value = citation_precision(cited, set(case.expected_sources))
        else:
            value = unsupported_citation_rate(cited, set(output.retrieved_ids))
        return Score(skipped="the answer cites nothing") if value is None else Score(value=value, details={
            "cited": list(cited)})


_NEEDS: dict[str, tuple] = {"citation_precision": ("expected_sources", "answer"),
                            "citation_recall": ("expected_sources", "answer"),
                            "unsupported_citation_rate": ("answer",)}

for _base, _needs in _NEEDS.items():

    def _factory(name: str, k: int | None, context: MetricContext, base: str = _base,
                 needs: tuple = _needs) -> CitationMetric:
        return CitationMetric(MetricSpec(name=name, base=base, needs=needs,
                                         direction="lower" if base.startswith("unsupported") else "higher"))

    metric_registry.register(_base)(_factory)


@dataclass
class CitationSupport:
    spec: MetricSpec
    judge: Judge

    async def score(self, case: Case, output: Output) -> Score:
        spans = cited_spans(output.answer)
        if not spans:
            return Score(skipped="the answer cites nothing")
        checked: list[dict[str, Any]] = []
        for text, cited in spans:
            passages = [p for p in output.passages if p.doc_id in cited]
            if not passages:
                checked.append({"statement": text, "cited": cited, "supported": False,
                                "reason": "cites no retrieved passage"})
                continue
            verdict = await self.judge.faithfulness(case.question, text, passages)
            supported = verdict.score == 1.0  # every claim of the statement, by the passages it cites
            checked.append({"statement": text, "cited": cited, "supported": supported,
                            "reason": "" if supported else "; ".join(c.reason for c in verdict.claims if c.reason)})
        value = sum(bool(item["supported"]) for item in checked) / len(checked)
        return Score(value=value, details={"judge": self.judge.name, "statements": checked})


@metric_registry.register("citation_support")
def _support(name: str, k: int | None, context: MetricContext) -> CitationSupport:
    spec = MetricSpec(name=name, base="citation_support", needs=("answer", "passages", "judge"),
                      judge=context.judge.name)
    return CitationSupport(spec, context.judge)
