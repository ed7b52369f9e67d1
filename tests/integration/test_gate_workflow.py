"""The release-gate workflow through the CLI: promote a baseline, gate on it, compare, JUnit, Markdown,
and the pytest plugin on a suite with a passing and a failing gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_jsonl
from tests.integration.conftest import evalkit

SUITE = """name: gate
corpus: {path: corpus.jsonl}
cases: {path: cases.jsonl}
candidates:
  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: %d}}
metrics: [recall@5, mrr]
gates:
  - {metric: recall@5, min: 0.5}
  - {metric: mrr, no_regression: {max_drop: 0.0, alpha: 0.05}}
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, scifact_slice) -> Path:
    folder = tmp_path_factory.mktemp("gate")
    cases, documents = scifact_slice
    write_jsonl(folder / "corpus.jsonl", documents)
    write_jsonl(folder / "cases.jsonl", cases)
    (folder / "good.yaml").write_text(SUITE % 5)
    return folder


def test_baseline_compare_junit_markdown(work: Path) -> None:
    first = evalkit("run", "good.yaml", "--no-mlflow", cwd=work)
    assert first.returncode == 1 and "baseline 'production' not found" in first.stdout  # no baseline yet
    (run_a,) = (work / "reports" / "gate").iterdir()
    promoted = evalkit("baseline", "promote", str(run_a), "--no-mlflow", cwd=work)
    assert promoted.returncode == 0
    assert json.loads((work / "reports" / "gate" / "baselines.json").read_text()) == {"production": run_a.name}

    # the same candidate name, now answering from recorded outputs that retrieve nothing relevant
    cases = [json.loads(line) for line in (work / "cases.jsonl").read_text().splitlines()]
    write_jsonl(work / "outputs.jsonl", [{"id": c["id"], "answer": "x", "retrieved_ids": ["none"]} for c in cases])
    worse = SUITE.replace("{name: bm25, kind: rag, retriever: {kind: bm25, top_k: %d}}",
                          "{name: bm25, kind: recorded, path: outputs.jsonl}")
    (work / "worse.yaml").write_text(worse)
    second = evalkit("run", "worse.yaml", "--no-mlflow", "--junit", "junit.xml", "--markdown", "summary.md", cwd=work)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "FAIL bm25: mrr change -" in second.stdout and "vs baseline " + run_a.name in second.stdout

    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data" / "junit.xsd")))
    document = etree.parse(str(work / "junit.xml"))
    schema.assertValid(document)
    cases = document.findall(".//testcase")
    assert len(cases) == 2 and document.getroot().get("failures") == "2"  # recall@5 fell below 0.5 too
    messages = [f.get("message") for f in document.findall(".//testcase/failure")]
    assert any(m.startswith("mrr change -") and "p = 0.0002" in m for m in messages), messages
    markdown = (work / "summary.md").read_text()
    assert markdown.startswith("### evalkit · gate · ❌ gates failed") and "| mrr |" in markdown

    run_b = next(p for p in (work / "reports" / "gate").iterdir() if p.is_dir() and p != run_a)
    compared = evalkit("compare", str(run_a), str(run_b), "--metric", "mrr", cwd=work)
    assert compared.returncode == 0, compared.stderr
    assert "cases got worse on mrr" in compared.stdout
    html = (run_b / f"compare-{run_a.name}.html").read_text()
    assert "Cases that got worse (mrr)" in html and "recall@5" in html


def test_pytest_plugin_runs_gates_as_items(work: Path) -> None:
    suites = work / "suites"
    suites.mkdir()
    text = SUITE.replace("corpus.jsonl", "../corpus.jsonl").replace("cases.jsonl", "../cases.jsonl")
    text = text.replace("  - {metric: mrr, no_regression: {max_drop: 0.0, alpha: 0.05}}\n",
                        "  - {metric: mrr, min: 0.99}\n")
    (suites / "release.yaml").write_text(text % 5)
    (suites / "notes.yaml").write_text("just: a yaml file\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider",
                             "--junitxml", "gates.xml", "-o", "addopts=", "-q"],
                            cwd=work, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "bm25: mrr mean >= 0.99" in result.stdout and "needs mean >= 0.99" in result.stdout
    selected = subprocess.run([sys.executable, "-m", "pytest", "suites", "-k", "recall", "-q", "-o", "addopts=",
                               "-p", "no:cacheprovider"], cwd=work, capture_output=True, text=True, timeout=600,
                              check=False)
    assert selected.returncode == 0 and "1 passed, 1 deselected" in selected.stdout


def test_a_baseline_kept_in_mlflow_is_the_run_not_a_candidate(work: Path) -> None:
    """`baseline promote` tags the run-level MLflow run (each candidate's child run carries the same
    evalkit.run_id), and the next run finds it there with no local pointer: its exit code is the
    gates' alone. A baseline whose MLflow run lacks evalkit's artifacts is one line and exit 2."""
    uri = f"sqlite:///{work / 'kept.db'}"
    (work / "two.yaml").write_text((SUITE % 5).replace("name: gate", "name: kept").replace(
        "candidates:\n", "candidates:\n  - {name: bm25-3, kind: rag, retriever: {kind: bm25, top_k: 3}}\n"))
    first = evalkit("run", "two.yaml", "--tracking-uri", uri, "--baseline", "none-yet", cwd=work)
    [run_a] = (work / "reports" / "kept").iterdir()
    promoted = evalkit("baseline", "promote", str(run_a), "--tracking-uri", uri, cwd=work)
    assert promoted.returncode == 0, promoted.stderr
    import mlflow

    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("evalkit-kept")
    tagged = client.search_runs([experiment.experiment_id], filter_string="tags.`evalkit.baseline` = 'production'")
    assert len(tagged) == 1 and "mlflow.parentRunId" not in tagged[0].data.tags, first.stdout
    (work / "reports" / "kept" / "baselines.json").unlink()  # only MLflow knows the baseline now
    second = evalkit("run", "two.yaml", "--tracking-uri", uri, cwd=work)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Traceback" not in second.stderr and "vs baseline" in second.stdout
    # a reviewer in the MLflow UI sees each run's gate outcomes in its tags and description
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {r.data.tags["evalkit.candidate"]: r for r in runs
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert parent.data.tags["evalkit.gates"] == "passed" and parent.data.tags["evalkit.status"] == "complete"
    assert "**PASS** bm25: mrr change" in parent.data.tags["mlflow.note.content"]
    assert children["bm25-3"].data.tags["evalkit.gates"] == "passed"
    assert "**PASS** bm25-3: recall@5 mean = " in children["bm25-3"].data.tags["mlflow.note.content"]
    client.set_tag(client.create_run(experiment.experiment_id).info.run_id, "evalkit.baseline", "bare")
    bare = evalkit("run", "two.yaml", "--tracking-uri", uri, "--baseline", "bare", cwd=work)
    assert bare.returncode == 2 and "Traceback" not in bare.stderr
    assert "baseline 'bare': MLflow run" in bare.stderr and "has no readable header.json" in bare.stderr


def test_candidate_runs_a_subset_and_keeps_only_its_gates(work: Path) -> None:
    (work / "subset.yaml").write_text((SUITE % 5).replace("name: gate", "name: subset").replace(
        "candidates:\n", "candidates:\n  - {name: bm25-3, kind: rag, retriever: {kind: bm25, top_k: 3}}\n").replace(
        "  - {metric: recall@5, min: 0.5}\n", "  - {metric: recall@5, min: 0.5}\n  - {metric: recall@5, candidate: bm25-3, min: 0.99}\n"))
    result = evalkit("run", "subset.yaml", "--candidate", "bm25", "--no-mlflow", "--baseline", "none", cwd=work)
    assert "subset: 12 cases × 1 candidates" in result.stderr, result.stderr
    [folder] = (work / "reports" / "subset").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert [c["name"] for c in summary["candidates"]] == ["bm25"]
    assert {g["candidate"] for g in summary["gates"]} == {"bm25"}  # the gate on bm25-3 is left out
    wrong = evalkit("run", "subset.yaml", "--candidate", "bm26", "--no-mlflow", cwd=work)
    assert wrong.returncode == 2 and "--candidate bm26: the suite has no such candidate" in wrong.stderr
    assert "did you mean 'bm25'" in wrong.stderr and "Traceback" not in wrong.stderr


def test_baseline_flag_beside_a_gate_that_names_its_own_says_which_applies(work: Path) -> None:
    (work / "named.yaml").write_text((SUITE % 5).replace("name: gate", "name: named").replace(
        "no_regression: {max_drop: 0.0, alpha: 0.05}", "no_regression: {baseline: production, if_no_baseline: pass}"))
    result = evalkit("run", "named.yaml", "--no-mlflow", "--baseline", "release-41", cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr  # no baseline yet, and the gate lets it pass
    assert ("warning: a gate names baseline 'production', which it keeps; --baseline release-41 applies to the "
            "gates that name none") in result.stderr
    assert "mrr: baseline 'production' not found, and the gate says to pass without one" in result.stdout


def test_a_cases_expectations_are_their_own_verdicts_junit_cases_and_pytest_items(tmp_path: Path) -> None:
    """`expect:` on a case: met or not per candidate, in the exit code, the JUnit file (one test
    case each) and the pytest plugin (one item each)."""
    (tmp_path / "corpus.jsonl").write_text('{"id": "d1", "text": "Refunds take 30 days."}\n'
                                           '{"id": "d2", "text": "Shipping takes 5 days."}\n')
    (tmp_path / "suite.yaml").write_text("""name: expecting
corpus: {path: corpus.jsonl}
cases:
  - {id: refunds, question: 'How long do refunds take?', expected_sources: [d1], expect: [{metric: recall@1, min: 1}]}
  - {id: shipping, question: 'How long does shipping take?', expected_sources: [d1], expect: [{metric: recall@1, min: 1}]}
candidates:
  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: 1}}
metrics: [recall@1]
""")
    result = evalkit("run", "suite.yaml", "--no-mlflow", "--junit", "junit.xml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # one case's expectation is not met
    assert "FAIL bm25: case shipping: recall@1 = 0.0000, needs >= 1" in result.stdout
    assert "case expectations: 1 of 2 met" in result.stdout
    junit = (tmp_path / "junit.xml").read_text()
    assert 'name="case refunds: recall@1 &gt;= 1"' in junit and 'name="case shipping: recall@1 &gt;= 1"' in junit
    plugin = subprocess.run([sys.executable, "-m", "pytest", "suite.yaml", "-p", "no:cacheprovider", "-o", "addopts=",
                             "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert "1 failed, 1 passed" in plugin.stdout, plugin.stdout + plugin.stderr
    assert "bm25: case shipping: recall@1 >= 1" in plugin.stdout
    (tmp_path / "bad.yaml").write_text((tmp_path / "suite.yaml").read_text().replace(
        "expect: [{metric: recall@1, min: 1}]}\n  - {id: shipping", "expect: [{metric: mrr, min: 1}]}\n  - {id: shipping"))
    bad = evalkit("validate", "bad.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and "case 'refunds' expects metric 'mrr', which the suite does not compute" in bad.stderr
