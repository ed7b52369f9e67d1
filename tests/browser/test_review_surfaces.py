"""The review surfaces in a real browser (`nox -s browser`): a real `mlflow server` on loopback with a
temporary store, a real evalkit run logged to it with traces, and headless Chromium driven by
playwright looking at the MLflow UI and at the HTML report. An answer made of HTML and script must
stay text in both. EVALKIT_UPDATE_SCREENSHOTS=1 also writes the screenshots into docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, evalkit, free_port, write_jsonl

playwright = pytest.importorskip("playwright.sync_api", reason="needs the browser extra: nox -s browser")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:  # this session exists to run them: a missing browser is a failure, not a skip
    pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does)", pytrace=False)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Rollo'
SHOTS = ROOT / "docs" / "screenshots"



@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{folder}/store.db",
                               "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, (folder / "server.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start")
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def logged(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory, scifact_slice) -> tuple[Path, Path]:
    """A real run of a small suite, logged to the server with every sample as a trace: two retrievers,
    and the team's product, whose recorded answer to one question is HTML with script in it."""
    work = tmp_path_factory.mktemp("run")
    cases, documents = scifact_slice
    cases = cases[:6]
    write_jsonl(work / "corpus.jsonl", documents)
    write_jsonl(work / "cases.jsonl", cases)
    write_jsonl(work / "product.jsonl", [{"id": c["id"], "answer": HOSTILE if i == 0 else "I don't know.",
                                          "retrieved_ids": c["expected_sources"]} for i, c in enumerate(cases)])
    (work / "review.yaml").write_text(
        "name: review\ncorpus: {path: corpus.jsonl}\ncases: {path: cases.jsonl}\n"
        "candidates:\n  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: 5}}\n"
        "  - {name: hybrid, kind: rag, retriever: {kind: hybrid, top_k: 5}}\n"
        "  - {name: product, kind: recorded, path: product.jsonl}\n"
        "metrics: [recall@5, mrr, faithfulness]\n"
        "gates:\n  - {metric: recall@5, min: 0.5}\n  - {metric: mrr, candidate: bm25, min: 0.99}\n")
    result = evalkit("run", "review.yaml", "--tracking-uri", mlflow_server, "--mlflow-traces", "all", cwd=work)
    assert result.returncode == 1, result.stderr  # bm25's mrr gate fails, on purpose: the reviewer must find it
    assert ", 18 traces" in result.stdout
    (run_dir,) = (work / "reports" / "review").iterdir()
    return work, run_dir


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def _shot(page, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000  # a rendered page, not a blank one
    if os.environ.get("EVALKIT_UPDATE_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / path.name)


def _dismiss(page) -> None:
    """MLflow's first-visit popovers and its assistant panel cover the page."""
    for label in ("Got it",):
        button = page.get_by_role("button", name=label)
        if button.count():
            button.first.click()
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.last.click()


def test_the_mlflow_ui_shows_the_runs_and_each_question_as_a_trace_with_assessments(
        mlflow_server: str, logged: tuple[Path, Path], browser, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    experiment = MlflowClient(tracking_uri=mlflow_server).get_experiment_by_name("evalkit-review")
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs")
    page.get_by_text("4 matching runs").wait_for(timeout=60_000)  # the parent and one run per candidate
    page.get_by_text("evalkit-review").first.wait_for(timeout=60_000)  # the title loads on its own request
    _dismiss(page)
    _shot(page, "mlflow-runs", tmp_path)

    # which candidate failed which gate: the parent run's description and tags say it
    runs = MlflowClient(tracking_uri=mlflow_server).search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    page.goto(f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}")
    page.get_by_text("FAIL bm25: mrr mean =", exact=False).first.wait_for(timeout=60_000)
    _dismiss(page)
    overview = page.inner_text("body")
    assert "failed: mrr (bm25)" in overview and "1 of 4 gates failed" in overview, overview[:3000]
    _shot(page, "mlflow-run-gates", tmp_path)

    page.goto(f"{mlflow_server}/#/experiments/{experiment.experiment_id}/traces")
    page.get_by_text("18 of 18").wait_for(timeout=60_000)  # 6 questions x 3 candidates
    _dismiss(page)
    body = page.inner_text("body")
    for column in ("faithfulness", "recall@5", "expected_sources"):  # assessments as columns
        assert column in body, column
    assert "bm25 · " in body and "hybrid · " in body  # each trace's candidate, in its session column
    assert '{"question"' not in body  # the question and the answer as text, not JSON
    _shot(page, "mlflow-traces", tmp_path)

    question = json.loads((logged[0] / "cases.jsonl").read_text().splitlines()[1])["question"]
    page.get_by_text(question[:40]).first.click()
    page.get_by_text("judge · faithfulness").first.wait_for(timeout=30_000)
    page.get_by_role("button", name=re.compile(r"Assess trace \(\d+ assessments\)")).click()
    page.get_by_text("Expectations").first.wait_for(timeout=30_000)
    detail = page.inner_text("body")
    assert "judge · faithfulness" in detail and "retrieve" in detail
    for assessment in ("faithfulness", "recall@5", "mrr", "expected_sources"):  # feedback and expectations
        assert f"\n{assessment}\n" in detail, assessment
    _shot(page, "mlflow-trace", tmp_path)
    page.get_by_text("retrieve").first.click()  # the retriever span: the passages with their document ids
    expected = json.loads((logged[0] / "cases.jsonl").read_text().splitlines()[1])["expected_sources"][0]
    page.get_by_text(expected).first.wait_for(timeout=30_000)
    _shot(page, "mlflow-retriever", tmp_path)

    # the hostile answer: shown as text, never run
    page.goto(f"{mlflow_server}/#/experiments/{experiment.experiment_id}/traces")
    page.get_by_text("18 of 18").wait_for(timeout=60_000)
    assert page.get_by_text("window.__pwned = 1", exact=False).count() > 0
    assert page.evaluate("window.__pwned") is None
    assert not errors, errors


def test_the_html_report_is_one_offline_file_to_explore_and_keeps_hostile_answers_inert(
        logged: tuple[Path, Path], browser, tmp_path: Path) -> None:
    _, run_dir = logged
    report = run_dir / "report.html"
    assert HOSTILE not in report.read_text()  # the answer is data (gzip'd JSON), never markup in the file
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    assert all(url.startswith(("file:", "data:")) for url in requests), requests  # one offline file
    metrics = [th.inner_text().split("\n")[0] for th in page.locator("#summary tbody tr th").all()]
    assert metrics == ["recall@5", "mrr", "faithfulness", "latency p50 / p95"]
    assert page.locator("svg.chart").count() == 2  # metrics with CIs; quality against latency
    assert page.inner_text("#count") == "18 of 18 samples"
    _shot(page, "report", tmp_path)

    page.select_option("#f-candidate", label="product")
    assert page.inner_text("#count") == "6 of 18 samples"
    page.select_option("#f-candidate", value="")
    page.select_option("#f-metric", label="recall@5")
    page.fill("#f-below", "0.5")
    below = sum(1 for r in rows if (r["scores"]["recall@5"].get("value") is not None
                                    and r["scores"]["recall@5"]["value"] < 0.5))
    assert page.inner_text("#count") == f"{below} of 18 samples"
    page.fill("#f-below", "")
    page.locator("#sort-metric").click()  # ascending by recall@5
    first = page.locator("#cases tbody tr").first.locator("td").nth(4).inner_text()
    assert float(first) == min(r["scores"]["recall@5"]["value"] for r in rows)

    page.fill("#f-search", "__pwned")
    assert page.inner_text("#count") == "1 of 18 samples"
    page.locator("#cases tbody tr").first.click()
    detail = page.locator("#detail")
    assert "window.__pwned = 1" in detail.inner_text()  # shown as text
    assert page.evaluate("window.__pwned") is None  # never run
    page.fill("#f-search", "")
    page.select_option("#f-candidate", label="bm25")
    page.locator("#cases tbody tr").first.click()
    bm25 = detail.locator(".cand").filter(has=page.locator("h4", has_text="bm25"))
    assert bm25.locator(".passage").count() >= 3 and bm25.locator(".passage.expected").count() >= 1
    assert all(len(text) > 50 for text in bm25.locator(".passage").all_inner_texts())  # passage texts, not ids
    _shot(detail, "report-detail", tmp_path)
    assert not errors, errors


def test_the_report_shows_each_questions_change_against_the_baseline(
        logged: tuple[Path, Path], browser, tmp_path: Path) -> None:
    work, baseline_dir = logged
    assert evalkit("baseline", "promote", str(baseline_dir), "--no-mlflow", cwd=work).returncode == 0
    # the product's next release retrieves nothing for half of the questions
    product = [json.loads(line) for line in (work / "product.jsonl").read_text().splitlines()]
    write_jsonl(work / "product.jsonl", [{**row, "retrieved_ids": [] if i % 2 else row["retrieved_ids"]}
                                         for i, row in enumerate(product)])
    result = evalkit("run", "review.yaml", "--no-mlflow", "--baseline", "production", cwd=work)
    assert result.returncode == 1 and "FAIL bm25: mrr" in result.stdout, result.stderr  # bm25's gate, as before
    run_dir = next(p for p in (work / "reports" / "review").iterdir() if p.is_dir() and p != baseline_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["baseline"] == {"name": "production", "run_id": baseline_dir.name}

    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto((run_dir / "report.html").as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    assert baseline_dir.name in page.inner_text("#baseline-note")
    page.select_option("#f-metric", label="recall@5")
    page.check("#f-worse")
    assert page.inner_text("#count") == "3 of 18 samples"  # the three product answers that lost their sources
    page.locator("#cases tbody tr").first.click()
    product_part = page.locator("#detail .cand").filter(has=page.locator("h4", has_text="product"))
    change = product_part.locator(".baseline").inner_text()
    assert "baseline production answered:" in change and "recall@5 1.000 → 0.000 (-1.000)" in change
    _shot(page.locator("#detail"), "report-baseline", tmp_path)
