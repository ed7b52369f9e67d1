"""`evalkit rescore`: a saved run's outputs scored again, with no candidate call; the passages are
the run folder's own, so a judge sees the same texts as in the original run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.runner.labels import sheet_rows
from evalkit.runner.passages import texts_for
from evalkit.runner.store import read_run
from tests.fake_openai import FakeOpenAI, faithfulness_judge
from tests.integration.conftest import evalkit


def source_run(work: Path) -> Path:
    (run,) = [p for p in (work / "reports" / "mini").iterdir() if p.is_dir()]
    return run


def new_run(work: Path, source: Path) -> Path:
    (run,) = [p for p in (work / "reports" / "mini").iterdir() if p.is_dir() and p != source]
    return run


@pytest.fixture
def work(finished_run, tmp_path: Path) -> Path:
    """A copy of the finished SciFact-slice run's working folder (suite, corpus, run), to rescore."""
    import shutil

    original, _ = finished_run
    copy = tmp_path / "work"
    shutil.copytree(original, copy, ignore=shutil.ignore_patterns("mlflow.db"))
    return copy


def test_rescore_with_the_same_judge_reproduces_the_scores(work: Path) -> None:
    source = source_run(work)
    result = evalkit("rescore", str(source), "--metrics", "faithfulness,mrr,hit_rate@3", "--no-mlflow", cwd=work)
    assert result.returncode == 0, result.stderr
    rescored = read_run(new_run(work, source))
    original = read_run(source)
    assert rescored.manifest.source_run == original.run_id and rescored.metrics[:3] == ["faithfulness", "mrr",
                                                                                         "hit_rate@3"]
    before = {(s.candidate, s.case_id): s for s in original.samples}
    for sample in rescored.samples:
        old = before[(sample.candidate, sample.case_id)]
        assert sample.output == old.output  # the outputs are the run's own
        assert sample.scores["faithfulness"] == old.scores["faithfulness"]  # same passages, same verdicts
        assert sample.scores["mrr"] == old.scores["mrr"]
        assert sample.scores["hit_rate@3"].value is not None  # a metric the run did not have
    assert json.loads((new_run(work, source) / "usage.json").read_text()) == {}  # no model was called
    assert f"rescored {original.run_id} as {rescored.run_id}" in result.stdout


def test_rescore_with_a_model_judge_calls_only_the_judge(work: Path) -> None:
    source = source_run(work)
    lines = []  # the outputs as a model would have written them: an extractive answer is not judged
    for line in (source / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        sample["output"]["extractive"] = False
        lines.append(json.dumps(sample))
    (source / "samples.jsonl").write_text("\n".join(lines) + "\n")
    with FakeOpenAI(judge=faithfulness_judge) as server:
        (work / "judge.yaml").write_text(f"judge: {{kind: model, model: gpt-4o-mini, base_url: '{server.base_url}', "
                                         "api_key_env: null}\n")
        result = evalkit("rescore", str(source), "--metrics", "faithfulness", "--judge", "judge.yaml", "--no-mlflow",
                         cwd=work)
    assert result.returncode == 0, result.stderr
    rescored = read_run(new_run(work, source))
    assert rescored.manifest.judge is not None and rescored.manifest.judge.kind == "model"
    judged = [s for s in rescored.samples if s.scores["faithfulness"].value is not None]
    # one judge call per distinct answer and passages (two candidates giving the same answer from the same
    # passages make the same request, answered from the response cache), nothing else
    distinct = {(s.output.answer, tuple(p.doc_id for p in s.output.passages)) for s in judged}
    assert len(judged) == 24 and len(server.requests) == len(distinct)
    assert all(r["body"].get("response_format") for r in server.requests)
    prompt = json.loads(server.requests[0]["body"]["messages"][-1]["content"])
    assert all(p["text"] for p in prompt["passages"])  # the judge saw the passages' texts, read back


def test_rescore_refuses_a_metric_the_cases_cannot_have(work: Path) -> None:
    result = evalkit("rescore", str(source_run(work)), "--metrics", "token_f1", "--no-mlflow", cwd=work)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --metrics: metrics[0]: metric 'token_f1' needs expected_answer, but no case has one (hint: add "
        "expected_answer to the cases or remove the metric)"]


def test_a_run_folder_stands_alone_when_its_suite_is_gone(work: Path) -> None:
    """Report, rescore and labels read the run folder only: with the suite and its corpus deleted,
    the report still shows the passages and rescoring reproduces the judge's scores."""
    source = source_run(work)
    for name in ("mini.yaml", "corpus.jsonl", "cases.jsonl"):
        (work / name).unlink()
    shutil.rmtree(work / "cache")  # no chunks to read texts back from either
    report = evalkit("report", str(source), cwd=work)
    assert report.returncode == 0, report.stderr
    original = read_run(source)
    shown = texts_for(original, work / "cache")  # what the report, the traces and the labels sheet show
    assert shown is not None and all(p.text for s in original.samples for p in shown(s).passages)
    rescored = evalkit("rescore", str(source), "--metrics", "faithfulness,mrr", "--no-mlflow", cwd=work)
    assert rescored.returncode == 0, rescored.stderr
    again = read_run(new_run(work, source))
    before = {(s.candidate, s.case_id): s.scores for s in original.samples}
    assert all(s.scores["faithfulness"] == before[(s.candidate, s.case_id)]["faithfulness"] for s in again.samples)
    assert again.passages == original.passages
    rows = sheet_rows(original.samples[:3], "faithfulness", shown)  # what `evalkit labels sample` writes
    assert any(text[:60] in json.dumps(rows) for text in original.passages.values())


def test_an_edited_corpus_is_detected(work: Path) -> None:
    """Rescore and report say when the suite's corpus changed since the run, and go on with the run's
    own passages; a folder without them (evalkit.run/2) shows ids rather than the new texts."""
    source = source_run(work)
    corpus = work / "corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    rows[0]["text"] = "An edited abstract."
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = evalkit("report", str(source), cwd=work)
    assert report.returncode == 0 and "corpus or its cases changed since run" in report.stderr, report.stderr
    rescored = evalkit("rescore", str(source), "--metrics", "faithfulness", "--no-mlflow", cwd=work)
    assert rescored.returncode == 0 and "changed since run" in rescored.stderr and "the run's own passages" in \
        rescored.stderr, rescored.stderr
    (source / "passages.jsonl.gz").unlink()  # as evalkit 0.3 wrote it
    old = evalkit("report", str(source), cwd=work)
    assert old.returncode == 0 and "passages are shown by id only" in old.stderr, old.stderr
