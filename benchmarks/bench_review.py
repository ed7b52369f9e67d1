"""The review surfaces at scale: the HTML report of a 10,000-case x 3-candidate run (file size, time to
render, time until it is interactive in headless Chromium, time to apply a filter), and the cost of
MLflow traces per sample on the sqlite store.

    nox -s bench -- benchmarks/bench_review.py     (the Chromium part needs the browser extra)

The run is generated: realistic sizes (SciFact-like questions, answers of two sentences, 5 passages
of ~1,200 characters each, three judged claims per answer, 8 metrics, tags), random values.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from evalkit.core.records import Output, Passage, Sample, Score
from evalkit.core.run import CandidateInfo, JudgeInfo, Run, RunManifest, SuiteInfo
from evalkit.core.specs import MetricSpec
from evalkit.metrics.operational import OPERATIONAL
from evalkit.runner.finish import finish

WORDS = ["cell", "protein", "gene", "expression", "patients", "risk", "cancer", "trial", "dose", "reduced",
         "increased", "associated", "mortality", "vitamin", "insulin", "receptor", "mice", "therapy", "analysis",
         "cohort", "level", "signal", "pathway", "effect", "study"]
METRICS = [MetricSpec(name=n, base=n.split("@")[0]) for n in
           ("hit_rate@10", "recall@10", "precision@10", "mrr", "ndcg@10", "citation_precision", "citation_recall")]
METRICS.append(MetricSpec(name="faithfulness", base="faithfulness", judge="offline-v2", needs=("judge",)))
SCORED = list(METRICS)
METRICS += OPERATIONAL


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def generated_run(folder: Path, cases: int, rng: random.Random) -> tuple[Run, dict[str, str]]:
    candidates = ["bm25", "dense", "hybrid"]
    manifest = RunManifest(run_id="bench", suite=SuiteInfo(name="bench", path="bench.yaml", hash="0"),
                           evalkit_version="bench", started_at="2026-11-25T12:00:00+00:00",
                           candidates=[CandidateInfo(name=c, kind="rag") for c in candidates], metrics=METRICS,
                           judge=JudgeInfo(name="offline-v2", kind="offline"), n_cases=cases)
    texts = {f"n{i}": text(rng, 180) for i in range(cases * 2)}  # chunks several cases share
    samples = []
    for position in range(cases):
        question = text(rng, 16)
        expected = [f"d{rng.randrange(cases * 2)}"]
        for candidate in candidates:
            nodes = [f"n{rng.randrange(cases * 2)}" for _ in range(5)]
            passages = [Passage(doc_id=f"d{n[1:]}", rank=r + 1, score=rng.random(), node_id=n)
                        for r, n in enumerate(nodes)]
            answer = f"{text(rng, 25)} [{passages[0].doc_id}] {text(rng, 25)} [{passages[1].doc_id}]"
            claims = [{"claim": text(rng, 20), "supported": rng.random() > 0.2, "support": 0.7,
                       "doc_id": passages[0].doc_id, "evidence": text(rng, 20), "reason": ""} for _ in range(3)]
            scores = {m.name: Score(value=round(rng.random(), 4)) for m in SCORED}
            scores["faithfulness"] = Score(value=round(rng.random(), 4), details={"judge": "offline-v2",
                                                                                 "claims": claims})
            samples.append(Sample(candidate=candidate, case_id=f"c{position}", position=position, question=question,
                                  expected_sources=expected, tags=[rng.choice(["SUPPORT", "CONTRADICT"])],
                                  output=Output(answer=answer, passages=passages, citations=[p.doc_id for p in
                                                                                             passages[:2]],
                                                latency_s=rng.random() / 50)))
    run = Run(folder=folder, manifest=manifest, samples=samples)
    return run.model_copy(update={"summary": finish(manifest, samples, usage={}, complete=True)}), texts


def report(cases: int, chromium: str | None) -> None:
    from evalkit.sinks.html import render_report

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        run, texts = generated_run(Path(tmp), cases, rng)

        def with_texts(sample: Sample) -> Output:
            return sample.output.model_copy(update={"passages": [p.model_copy(update={"text": texts[p.node_id or ""]})
                                                                 for p in sample.output.passages]})

        started = time.perf_counter()
        path = render_report(run, with_texts)
        rendered = time.perf_counter() - started
        print(f"report of {cases:,} cases x 3 candidates: {path.stat().st_size / 1e6:.1f} MB, "
              f"rendered in {rendered:.1f} s")
        if chromium is None:
            print("Chromium not found: load time not measured")
            return
        from playwright.sync_api import sync_playwright

        loads, filters = [], []
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            for _ in range(3):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(path.as_uri())
                page.wait_for_selector("body[data-ready=true]", timeout=60_000)
                loads.append(time.perf_counter() - started)
                started = time.perf_counter()
                page.fill("#f-search", "insulin")
                page.wait_for_function(f"!document.getElementById('count').textContent.startsWith('{cases * 3} of')")
                filters.append(time.perf_counter() - started)
                page.close()
            browser.close()
        print(f"interactive in Chromium: median {statistics.median(loads):.2f} s over 3 loads "
              f"(navigation, inflating and parsing the data, first page of rows)")
        print(f"a search over {cases * 3:,} samples: median {statistics.median(filters) * 1000:.0f} ms")


def traces(n: int) -> None:
    import os

    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    from evalkit.core.offline import import_mlflow
    from evalkit.sinks.traces import log_traces

    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp:
        run, _ = generated_run(Path(tmp), n, rng)
        mlflow = import_mlflow()
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("bench")
        with mlflow.start_run() as active:
            log_traces(mlflow, run, "bm25", active.info.run_id, "all")  # warm-up: store migrations, imports
        with mlflow.start_run() as active:
            started = time.perf_counter()
            logged = log_traces(mlflow, run, "dense", active.info.run_id, "all").logged
            seconds = time.perf_counter() - started
    print(f"MLflow traces on the sqlite store: {seconds / logged * 1000:.0f} ms per sample "
          f"({logged} traces of 3 spans, 9 assessments each)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--traces", type=int, default=200)
    args = parser.parse_args()
    report(args.cases, shutil.which("chromium") or shutil.which("chromium-browser"))
    traces(args.traces)


if __name__ == "__main__":
    main()
