"""End to end: the real CLI on a slice of SciFact, the real MLflow sqlite store, the HTML report."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from tests.integration.conftest import evalkit


def test_run_passes_and_prints_table(finished_run) -> None:
    _, result = finished_run
    assert result.returncode == 0, result.stderr + result.stdout
    assert "PASS bm25: recall@5" in result.stdout and "PASS hybrid: recall@5" in result.stdout
    assert "ndcg@5" in result.stdout
    assert "Traceback" not in result.stderr


def test_results_files(finished_run, scifact_slice) -> None:
    work, _ = finished_run
    (run_dir,) = (work / "reports" / "mini").iterdir()
    header = json.loads((run_dir / "header.json").read_text())
    assert header["schema"] == "evalkit.run/3" and header["n_cases"] == 12
    assert [m["name"] for m in header["metrics"]][-3:] == ["latency_p50", "latency_p95", "cost"]
    assert {m["name"]: m["direction"] for m in header["metrics"]}["latency_p50"] == "lower"
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 24 and {s["candidate"] for s in samples} == {"bm25", "hybrid"}
    cases = {c["id"]: c for c in scifact_slice[0]}
    for sample in samples:
        assert sample["expected_sources"] == cases[sample["case_id"]]["expected_sources"]
        assert len(sample["output"]["retrieved_ids"]) == 5
        assert set(sample["scores"]) == {"hit_rate@5", "recall@5", "mrr", "ndcg@5", "context_recall_ids", "faithfulness"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["n_samples"] == 24
    bm25 = next(c for c in summary["candidates"] if c["name"] == "bm25")
    recall = bm25["metrics"]["recall@5"]
    assert recall["ci_low"] <= recall["value"] <= recall["ci_high"] and recall["n"] == 12
    # the mean in the summary is the mean of the per-sample values
    values = [s["scores"]["recall@5"]["value"] for s in samples if s["candidate"] == "bm25"]
    assert recall["value"] == pytest.approx(sum(values) / len(values))
    # ragas's ID-based recall equals ours at the same cutoff (set-based, top 5 distinct docs)
    ragas = [s["scores"]["context_recall_ids"]["value"] for s in samples if s["candidate"] == "bm25"]
    assert ragas == pytest.approx(values)


def test_mlflow_run(finished_run) -> None:
    from mlflow.tracking import MlflowClient

    work, _ = finished_run
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("evalkit-mini")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and sorted(r.info.run_name for r in children) == ["bm25", "hybrid"]
    child = next(r for r in children if r.info.run_name == "hybrid")
    assert child.data.params["retriever.kind"] == "hybrid" and child.data.params["retriever.top_k"] == "5"
    assert 0 <= child.data.metrics["recall_at_5"] <= 1 and child.data.metrics["recall_at_5/n"] == 12
    assert child.data.tags["evalkit.suite"] == "mini" and len(child.data.tags["evalkit.suite_hash"]) == 16
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert "samples.json" in artifacts
    table = json.loads(Path(client.download_artifacts(child.info.run_id, "samples.json", str(work))).read_text())
    assert len(table["data"]) == 12 and "recall_at_5" in table["columns"]
    parent_artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"report.html", "samples.jsonl", "summary.json", "header.json"} <= parent_artifacts


def test_html_report(finished_run) -> None:
    work, _ = finished_run
    (run_dir,) = (work / "reports" / "mini").iterdir()
    html = (run_dir / "report.html").read_text()
    # one offline file: nothing loaded from elsewhere (the only URL is the SVG namespace)
    assert "<script src" not in html and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "recall@5" in html and "hybrid" in html and "2 of 2 gates passed" in html
    packed = re.search(r'<script type="application/octet-stream" id="data">\s*([A-Za-z0-9+/=]+)\s*</script>', html)
    assert packed is not None
    data = json.loads(gzip.decompress(base64.b64decode(packed.group(1))))
    assert len(data["samples"]) == 24 and len(data["cases"]) == 12 and data["candidates"] == ["bm25", "hybrid"]


def test_report_rerenders_saved_run(finished_run) -> None:
    work, _ = finished_run
    (run_dir,) = (work / "reports" / "mini").iterdir()
    (run_dir / "report.html").unlink()
    result = evalkit("report", str(run_dir), cwd=work)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "report.html").is_file()


def test_failing_gate_exits_1_and_bad_suite_exits_2(finished_run) -> None:
    work, _ = finished_run
    text = (work / "mini.yaml").read_text().replace("min: 0.5", "max: 0.1")
    (work / "strict.yaml").write_text(text.replace("name: mini", "name: strict"))
    result = evalkit("run", "strict.yaml", "--no-mlflow", cwd=work)
    assert result.returncode == 1 and "FAIL bm25: recall@5" in result.stdout
    (work / "bad.yaml").write_text(text.replace("recall@5, mrr", "recal@5, mrr"))
    result = evalkit("run", "bad.yaml", cwd=work)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: bad.yaml:7: metrics[1]: unknown metric 'recal' (hint: did you mean 'recall'?)"]
