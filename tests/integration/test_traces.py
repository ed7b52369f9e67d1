"""Each sample as an MLflow trace with assessments, in the real tracking store: what a reviewer opens
in the MLflow UI (the browser test in tests/browser checks the UI itself)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import evalkit


def test_every_sample_is_a_trace_with_its_documents_expectations_and_feedback(finished_run, tmp_path: Path) -> None:
    import shutil

    import mlflow
    from mlflow.tracking import MlflowClient

    work = tmp_path / "work"
    shutil.copytree(finished_run[0], work, ignore=shutil.ignore_patterns("mlflow.db"))
    (source,) = (work / "reports" / "mini").iterdir()
    lines = []  # the answers as a model would have written them, so the judge reads them (an
    for line in (source / "samples.jsonl").read_text().splitlines():  # extractive answer is not judged)
        sample = json.loads(line)
        sample["output"]["extractive"] = False
        lines.append(json.dumps(sample))
    (source / "samples.jsonl").write_text("\n".join(lines) + "\n")
    rescored = evalkit("rescore", str(source), "--metrics", "hit_rate@5,recall@5,mrr,faithfulness", "--no-mlflow",
                       cwd=work)
    assert rescored.returncode == 0, rescored.stderr
    (run_dir,) = [p for p in (work / "reports" / "mini").iterdir() if p != source]
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = evalkit("report", str(run_dir), "--mlflow", "--mlflow-traces", "all", "--tracking-uri", uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ", 24 traces" in result.stdout
    samples = {(s["candidate"], s["case_id"]): s for s in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("evalkit-mini")
    runs = {r.info.run_name: r.info.run_id for r in client.search_runs([experiment.experiment_id])}
    for candidate in ("bm25", "hybrid"):
        traces = mlflow.search_traces(locations=[experiment.experiment_id], run_id=runs[candidate],
                                      return_type="list", max_results=100)
        assert len(traces) == 12  # linked to the candidate's run
        for trace in traces:
            sample = samples[(candidate, trace.info.tags["evalkit.case_id"])]
            spans = {span.name: span for span in trace.data.spans}
            assert trace.data.spans[0].inputs == sample["question"]  # plain text in the trace list
            assert trace.data.spans[0].outputs == sample["output"]["answer"]
            assert trace.info.trace_metadata["mlflow.trace.session"] == f"{candidate} · {run_dir.name}"  # its candidate
            retrieved = spans["retrieve"].outputs
            assert [d["metadata"]["doc_uri"] for d in retrieved] == [p["doc_id"] for p in sample["output"]["passages"]]
            assert all(d["page_content"] for d in retrieved)  # texts read back from the corpus, not just ids
            assert [d["metadata"]["expected_source"] for d in retrieved] == [
                p["doc_id"] in sample["expected_sources"] for p in sample["output"]["passages"]]
            assert spans["judge · faithfulness"].outputs["claims"]  # the judge's verdict per claim
            assessments = {a.name: a for a in trace.info.assessments}
            assert assessments["expected_sources"].expectation.value == sample["expected_sources"]
            for metric, score in sample["scores"].items():
                if "value" in score:  # rounded for the reviewer's eye
                    assert assessments[metric].feedback.value == round(score["value"], 4), metric
                if "skipped" in score:  # not applicable, in words
                    assert assessments[metric].feedback.value == "not applicable", metric
                    assert assessments[metric].rationale == score["skipped"]
            faithfulness = assessments["faithfulness"]
            assert faithfulness.source.source_type == "LLM_JUDGE" and faithfulness.source.source_id.startswith("offline")
            assert faithfulness.rationale and "supported" in faithfulness.rationale


def test_a_warm_rerun_does_not_log_its_unchanged_traces_again(finished_run, tmp_path: Path) -> None:
    """The same suite run again, nothing changed: its samples are replayed, and their traces, the
    same as the first run's, are not written twice; a sample that changed gets its trace."""
    import shutil

    import mlflow
    from mlflow.tracking import MlflowClient

    work = tmp_path / "work"
    shutil.copytree(finished_run[0], work)
    shutil.rmtree(work / "reports")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    first = evalkit("run", "mini.yaml", "--mlflow-traces", "all", "--tracking-uri", uri, cwd=work)
    assert first.returncode == 0, first.stderr
    assert ", 24 traces" in first.stdout
    again = evalkit("run", "mini.yaml", "--mlflow-traces", "all", "--tracking-uri", uri, cwd=work)
    assert again.returncode == 0, again.stderr
    assert "24 unchanged traces already logged by an earlier run" in again.stdout and ", 24 traces" not in again.stdout
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name("evalkit-mini")
    mlflow.set_tracking_uri(uri)
    assert len(mlflow.search_traces(locations=[experiment.experiment_id], return_type="list", max_results=200)) == 24
    (work / "mini.yaml").write_text((work / "mini.yaml").read_text().replace("top_k: 5}}\n  - {name: hybrid",
                                                                           "top_k: 3}}\n  - {name: hybrid"))
    changed = evalkit("run", "mini.yaml", "--mlflow-traces", "all", "--tracking-uri", uri, cwd=work)
    assert ", 12 traces, 12 unchanged traces already logged" in changed.stdout, changed.stdout  # bm25 changed


def test_failed_means_errored_or_on_the_failing_side_of_a_gate() -> None:
    from evalkit.core.records import Output, Sample, Score
    from evalkit.core.specs import GateSpec, NoRegression
    from evalkit.sinks.traces import failed

    def sample(candidate: str = "rag", **scores: Score) -> Sample:
        return Sample(candidate=candidate, case_id="q", question="?", output=Output(answer="a"), scores=scores)

    gates = [GateSpec(metric="faithfulness", min=0.8), GateSpec(metric="distractor_rate", candidate="rag", max=0.0),
             GateSpec(metric="recall@10", no_regression=NoRegression())]
    assert not failed(sample(faithfulness=Score(value=0.9), distractor_rate=Score(value=0.0)), gates)
    assert failed(sample(faithfulness=Score(value=0.4)), gates)
    assert failed(sample(distractor_rate=Score(value=1.0)), gates)
    assert not failed(sample("closed", distractor_rate=Score(value=1.0)), gates)  # the gate is on rag only
    assert failed(sample(faithfulness=Score(error="judge timed out")), gates)
    assert not failed(sample(faithfulness=Score(skipped="closed-book")), gates)
    assert not failed(sample(**{"recall@10": Score(value=0.0)}), gates)  # no_regression compares runs
    assert not failed(sample(faithfulness=Score(value=0.1)), [])  # no gates: only errors fail
