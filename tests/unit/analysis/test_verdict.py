"""The verdict's rules on hand-made runs: a significant paired difference is stated as one, a
difference whose CI includes 0 is said to be not significant, directions and units are read from
the metric specs."""

from __future__ import annotations

from evalkit.analysis.summary import summarize
from evalkit.analysis.verdict import verdict
from evalkit.core.records import Output, Sample, Score
from evalkit.core.run import CandidateInfo, RunManifest, SuiteInfo
from evalkit.core.specs import MetricSpec
from evalkit.metrics.operational import OPERATIONAL

F1 = MetricSpec(name="token_f1", base="token_f1")
STALE = MetricSpec(name="stale_answer_rate", base="stale_answer_rate", direction="lower")
CHECK = MetricSpec(name="check_json", base="check", unit="pass")


def run(values: dict[str, dict[str, list[float]]], latency: dict[str, float],
        pairs: list[tuple[str, str]] | None = None) -> list[str]:
    manifest = RunManifest(run_id="r", suite=SuiteInfo(name="s"), n_cases=40,
                           candidates=[CandidateInfo(name=name) for name in values],
                           metrics=[F1, STALE, CHECK, *OPERATIONAL], verdict_pairs=pairs or [])
    samples = [Sample(candidate=name, case_id=f"c{i}", question="q",
                      output=Output(latency_s=latency[name], cost_usd=0.002),
                      scores={metric: Score(value=v[i]) for metric, v in metrics.items()})
               for name, metrics in values.items() for i in range(40)]
    return verdict(manifest, summarize(manifest, samples), samples)


def test_a_clear_difference_is_stated_and_a_small_one_is_not_significant() -> None:
    lines = run({
        "rag": {"token_f1": [0.9, 0.8] * 20, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 30 + [0.0] * 10},
        "closed": {"token_f1": [0.3, 0.5] * 20, "stale_answer_rate": [0.0] * 39 + [1.0], "check_json": [1.0] * 40},
    }, {"rag": 0.42, "closed": 0.11})
    assert lines[0] == "rag scores token_f1 45 points higher than closed (95% CI 41 to 50, 40 cases)"  # SE 2.4 points
    assert lines[1].startswith("stale_answer_rate: rag and closed differ by 2 points, not significant (95% CI ")
    assert lines[2] == "answers failing a format check: rag 25%, closed 0%"
    assert lines[3] == "p50 latency: rag 420.0 ms, $2.00 per 1,000 answers; closed 110.0 ms, $2.00 per 1,000 answers"


def test_a_lower_is_better_metric_names_the_lower_candidate_best() -> None:
    lines = run({
        "fresh": {"token_f1": [0.5] * 40, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 40},
        "stale": {"token_f1": [0.5] * 40, "stale_answer_rate": [1.0, 0.0] * 20, "check_json": [1.0] * 40},
    }, {"fresh": 0.1, "stale": 0.1})
    assert lines[0] == "token_f1: fresh and stale are the same on every case (40 cases)"
    assert lines[1] == "fresh scores stale_answer_rate 50 points lower than stale (95% CI 35 to 65, 40 cases)"


ABSTAIN = MetricSpec(name="abstain_rate_unanswerable", base="abstain_rate_unanswerable", needs=("unanswerable",))
BASE_FILE = {"model": "local:gemma3-270m", "sha256": "a5fd"}
TUNED_FILE = {**BASE_FILE, "adapter": {"path": "adapter.gguf", "sha256": "9c1e"}}
RETRIEVER = {"retriever.kind": "bm25", "retriever.top_k": 1}


def fine_tuning_run(tuned_f1: list[float], candidates: list[CandidateInfo] | None = None) -> list[str]:
    """RAG and RAG on a fine-tuned model: the tuned one declines 20 of 20 unanswerable cases where
    the base declines 2; their token_f1 on the 40 cases is given."""
    candidates = candidates or [CandidateInfo(name="rag", kind="rag", params=RETRIEVER, served_by=BASE_FILE),
                                CandidateInfo(name="rag-ft", kind="rag", params=RETRIEVER, served_by=TUNED_FILE)]
    manifest = RunManifest(run_id="r", suite=SuiteInfo(name="s"), n_cases=40, candidates=candidates,
                           metrics=[F1, ABSTAIN, *OPERATIONAL])
    values = {"rag": ([0.6, 0.2] * 20, [1.0] * 2 + [0.0] * 18), "rag-ft": (tuned_f1, [1.0] * 20)}
    samples = [Sample(candidate=name, case_id=f"c{i}", question="q", output=Output(latency_s=0.1),
                      scores={"token_f1": Score(value=f1[i]),
                              "abstain_rate_unanswerable": Score(value=abstain[i // 2]) if i % 2 else Score()})
               for name, (f1, abstain) in values.items() for i in range(40)]
    return verdict(manifest, summarize(manifest, samples), samples)


def test_fine_tuning_that_changes_behaviour_and_not_correctness_is_said_in_one_line() -> None:
    lines = fine_tuning_run([0.6, 0.2] * 19 + [0.2, 0.6])
    line = next(line for line in lines if line.startswith("fine-tuning"))
    assert line.startswith("fine-tuning on top of retrieval (rag-ft against rag) raises abstain_rate_unanswerable "
                           "by 90 points (better; 95% CI 75 to 100)")  # 18 of 20 unanswerable cases flip to declining
    assert " and leaves token_f1 unchanged (0 points, 95% CI " in line
    assert line.endswith(", 40 cases)")


def test_fine_tuning_that_also_changes_correctness_says_by_how_much() -> None:
    line = next(line for line in fine_tuning_run([0.9, 0.5] * 20) if line.startswith("fine-tuning"))
    assert line.endswith(" and raises token_f1 by 30 points (better; 95% CI 30 to 30), 40 cases")


def test_only_a_same_model_same_retrieval_pair_is_a_fine_tuning_comparison() -> None:
    other_retriever = [CandidateInfo(name="rag", kind="rag", params={**RETRIEVER, "retriever.top_k": 5},
                                     served_by=BASE_FILE),
                       CandidateInfo(name="rag-ft", kind="rag", params=RETRIEVER, served_by=TUNED_FILE)]
    assert not any(line.startswith("fine-tuning") for line in fine_tuning_run([0.6, 0.2] * 20, other_retriever))


def test_the_suite_names_the_pairs_the_verdict_compares() -> None:
    """Hybrid against BM25, which the default (the best against every other) never states when a
    third candidate is best; an unnamed pair is not compared."""
    values = {
        "bm25": {"token_f1": [0.5, 0.6] * 20, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 40},
        "hybrid": {"token_f1": [0.7, 0.8] * 20, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 40},
        "tuned": {"token_f1": [0.9, 0.9] * 20, "stale_answer_rate": [0.0] * 40, "check_json": [1.0] * 40},
    }
    latency = {"bm25": 0.1, "hybrid": 0.1, "tuned": 0.1}
    default = run(values, latency)
    assert not any(line.startswith("hybrid scores token_f1") for line in default)
    chosen = run(values, latency, pairs=[("bm25", "hybrid")])
    assert chosen[0] == "hybrid scores token_f1 20 points higher than bm25 (95% CI 20 to 20, 40 cases)"
    assert not any("tuned" in line for line in chosen if "token_f1" in line)
