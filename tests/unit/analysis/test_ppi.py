"""Prediction-powered inference: the estimator against the authors' ppi_py and by hand, its coverage
with a biased judge, and human labels attached to the answer they judged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.analysis.ppi import power_tuning, ppi_mean_ci
from evalkit.analysis.summary import summarize
from evalkit.core.records import Label, Output, Passage, Sample, Score
from evalkit.core.run import CandidateInfo, RunManifest, SuiteInfo
from evalkit.core.specs import MetricSpec

HUMAN = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1]
JUDGE = [0.9, 0.6, 0.4, 0.8, 0.7, 1.0, 0.5, 0.2, 0.9, 0.3, 0.8, 0.7]
UNLABELLED = [0.1, 0.9, 0.8, 0.7, 0.3, 1.0, 0.6, 0.5, 0.9, 0.2, 0.8, 0.4, 0.7, 1.0, 0.6, 0.3, 0.9, 0.5, 0.8, 0.7,
              0.2, 0.6, 1.0, 0.4, 0.9, 0.8, 0.5, 0.7, 0.3, 0.6]


@pytest.mark.parametrize(("lam", "expected"), [
    # ppi_py 0.2.3: ppi_mean_pointestimate and ppi_mean_ci(alpha=0.05) on these arrays
    (None, (0.6594081, 0.39709378, 0.92172243)),
    (1.0, (0.64, 0.35277752, 0.92722248)),
    (0.0, (0.66666667, 0.39994935, 0.93338398)),
])
def test_the_estimator_matches_the_authors_implementation(lam: float | None, expected: tuple[float, ...]) -> None:
    estimate, low, high, _ = ppi_mean_ci(HUMAN, JUDGE, UNLABELLED, lam=lam)
    assert (estimate, low, high) == pytest.approx(expected, abs=1e-7)


def test_the_estimator_by_hand() -> None:
    assert power_tuning(HUMAN, JUDGE, UNLABELLED) == pytest.approx(0.27219615827210764)
    # lam = 1: the judge's mean on the unlabelled samples plus the mean human-minus-judge error
    estimate, low, high, lam = ppi_mean_ci(HUMAN, JUDGE, UNLABELLED, lam=1.0)
    rectifier = [h - j for h, j in zip(HUMAN, JUDGE, strict=True)]
    assert estimate == pytest.approx(sum(UNLABELLED) / 30 + sum(rectifier) / 12)
    spread = math.sqrt(np.var(UNLABELLED) / 30 + np.var(rectifier) / 12)
    assert (high - low) / 2 == pytest.approx(1.959964 * spread, rel=1e-6) and lam == 1.0
    # a judge that says the same for everything carries nothing: the labels alone
    assert power_tuning(HUMAN, [0.5] * 12, [0.5] * 30) == 0.0


def test_with_a_biased_judge_the_ppi_interval_covers_the_truth_and_the_judges_does_not() -> None:
    """The judge calls 90% of good answers and 50% of bad ones supported: its mean is 0.78 where
    people's is 0.70. 100 of 1,000 answers labelled, 1,000 simulated runs (PPI++ covers about 94%: lam is estimated)."""
    rng = np.random.default_rng(20261127)
    truth, runs, covered_ppi, covered_judge, widths = 0.7, 1000, 0, 0, []
    for _ in range(runs):
        human = (rng.random(1000) < truth).astype(float)
        judge = np.where(human == 1, rng.random(1000) < 0.9, rng.random(1000) < 0.5).astype(float)
        _, low, high, _ = ppi_mean_ci(human[:100], judge[:100], judge[100:])
        covered_ppi += low <= truth <= high
        widths.append(high - low)
        half = 1.96 * judge.std() / math.sqrt(1000)
        covered_judge += judge.mean() - half <= truth <= judge.mean() + half
    assert 0.925 <= covered_ppi / runs <= 0.97
    assert covered_judge / runs < 0.05
    # narrower than the 100 labels alone would give (their 95% half width is about 0.09)
    assert np.median(widths) / 2 < 1.96 * math.sqrt(truth * (1 - truth) / 100)


def _sample(case: str, answer: str, value: float) -> Sample:
    return Sample(candidate="rag", case_id=case, question="q", position=int(case[1:]),
                  output=Output(answer=answer, passages=[Passage(doc_id="d1", text="t", rank=1)]),
                  scores={"faithfulness": Score(value=value)})


def test_labels_stay_attached_to_the_answer_they_judged() -> None:
    samples = [_sample(f"c{i}", f"answer {i}", 1.0 if i % 3 else 0.0) for i in range(20)]
    manifest = RunManifest(run_id="r", suite=SuiteInfo(name="s"), evalkit_version="0", started_at="", n_cases=20,
                           candidates=[CandidateInfo(name="rag", kind="rag")],
                           metrics=[MetricSpec(name="faithfulness", base="faithfulness", judge="offline")])
    labels: dict = {}
    for sample in samples[:6]:
        label = Label(case_id=sample.case_id, candidate="rag", metric="faithfulness", label=0.0,
                      answer_key=sample.answer_key)
        labels[(sample.case_id, "rag", "faithfulness")] = {label.answer_key: label}
    (summary,) = summarize(manifest, samples, labels=labels)
    ppi = summary.metrics["faithfulness"].ppi
    assert ppi is not None and (ppi.n_labeled, ppi.n_stale) == (6, 0) and ppi.human_mean == 0.0
    assert ppi.value < summary.metrics["faithfulness"].value  # people found the judge too generous

    changed = [s.model_copy(update={"output": s.output.model_copy(update={"answer": "a new answer"})})
               if s.case_id in ("c0", "c1") else s for s in samples]
    (summary,) = summarize(manifest, changed, labels=labels)
    ppi = summary.metrics["faithfulness"].ppi
    assert ppi is not None and (ppi.n_labeled, ppi.n_stale) == (4, 2)  # a changed answer drops its label
    retrieved_else = [s.model_copy(update={"output": s.output.model_copy(
        update={"passages": [Passage(doc_id="d2", text="t", rank=1)]})}) for s in samples]
    (summary,) = summarize(manifest, retrieved_else, labels=labels)
    assert summary.metrics["faithfulness"].ppi is None  # judged against other passages: every label stale
