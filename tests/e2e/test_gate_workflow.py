"""The release-gate workflow through the CLI: promote a baseline, gate on it, compare, JUnit, Markdown,
and the pytest plugin on a suite with a passing and a failing gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_jsonl
from tests.e2e.conftest import evalkit

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
