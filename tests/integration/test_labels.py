"""Human labels correct the judge, through the CLI: a labelling sheet from a run, filled in with the
real human labels of AttributionBench, a PPI estimate whose interval holds the true rate where the
judge alone misses it, a gate on the PPI bound, a changed answer dropping its label, and labels
added as feedback on MLflow traces pulled back into a labels file."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, evalkit, write_jsonl

ROWS = 300  # AttributionBench dev answers the "product" gave, with their passages and a person's label


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("labels")
    text = gzip.decompress((ROOT / "suites/data/attributionbench/dev.jsonl.gz").read_bytes()).decode()
    rows = [json.loads(line) for line in text.splitlines()][:ROWS]
    write_jsonl(folder / "cases.jsonl", [{"id": f"ab{i}", "question": r["question"] or "?"} for i, r in enumerate(rows)])
    write_jsonl(folder / "product.jsonl", [{"id": f"ab{i}", "answer": r["answer"], "contexts": r["contexts"],
                                            "retrieved_ids": [f"ab{i}-{k}" for k in range(len(r["contexts"]))]}
                                           for i, r in enumerate(rows)])
    (folder / "product.yaml").write_text("name: product\ncases: {path: cases.jsonl}\n"
                                         "candidates:\n  - {name: product, kind: recorded, path: product.jsonl}\n"
                                         "metrics: [faithfulness]\n")
    return folder, {f"ab{i}": int(r["label"]) for i, r in enumerate(rows)}


def _fill(sheet: Path, truth: dict[str, int]) -> list[dict[str, str]]:
    """What a reviewer does: one label per row of the sheet (here, AttributionBench's own)."""
    with sheet.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["label"] = str(truth[row["case_id"]])
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_labels_sheet_to_ppi_estimate_gate_and_stale_labels(work: tuple[Path, dict[str, int]]) -> None:
    folder, truth = work
    first = evalkit("run", "product.yaml", "--no-mlflow", cwd=folder)
    assert first.returncode == 0, first.stderr
    (run_dir,) = (folder / "reports" / "product").iterdir()

    sampled = evalkit("labels", "sample", str(run_dir), "--n", "80", "-o", "sheet.csv", cwd=folder)
    assert sampled.returncode == 0, sampled.stderr
    assert "sheet.csv: 80 samples to label on faithfulness (product 80)" in sampled.stdout
    rows = _fill(folder / "sheet.csv", truth)
    assert len(rows) == 80 and all(row["passages"].startswith("[ab") and row["answer"] for row in rows)

    reported = evalkit("report", str(run_dir), "--labels", "sheet.csv", cwd=folder)
    assert reported.returncode == 0, reported.stderr
    assert "faithfulness, with labels (PPI)" in reported.stdout and "80 labels" in reported.stdout
    aggregate = json.loads((run_dir / "summary.json").read_text())["candidates"][0]["metrics"]["faithfulness"]
    ppi, true_rate = aggregate["ppi"], sum(truth.values()) / ROWS
    assert ppi["n_labeled"] == 80 and ppi["n_stale"] == 0
    assert ppi["ci_low"] <= true_rate <= ppi["ci_high"]  # people's rate on all 300 answers
    assert not aggregate["ci_low"] <= true_rate <= aggregate["ci_high"]  # the judge alone misses it
    assert "macro_f1" in ppi["agreement"]

    # the labels in the suite, a gate on the PPI bound; then one labelled answer changes
    suite = (folder / "product.yaml").read_text() + "labels: sheet.csv\ngates:\n" \
        "  - {metric: faithfulness, statistic: ppi_ci_low, min: 0.4}\n"
    (folder / "gated.yaml").write_text(suite.replace("name: product", "name: gated", 1))
    gated = evalkit("run", "gated.yaml", "--no-mlflow", cwd=folder)
    assert gated.returncode == 0 and "PASS product: faithfulness ppi_ci_low = " in gated.stdout, gated.stdout
    changed = rows[0]["case_id"]
    outputs = [json.loads(line) for line in (folder / "product.jsonl").read_text().splitlines()]
    write_jsonl(folder / "product.jsonl", [{**o, "answer": "Something else entirely."} if o["id"] == changed else o
                                           for o in outputs])
    again = evalkit("run", "gated.yaml", "--no-mlflow", cwd=folder)
    assert again.returncode == 0 and "79 labels, 1 stale" in again.stdout, again.stdout


def test_labels_file_errors_name_the_line(work: tuple[Path, dict[str, int]]) -> None:
    folder, _ = work
    (folder / "bad.jsonl").write_text('{"case_id": "ab1", "candidate": "product", "metric": "faithfulness", '
                                      '"label": "maybe", "answer_key": "x"}\n')
    (folder / "bad.yaml").write_text((folder / "product.yaml").read_text() + "labels: bad.jsonl\n")
    result = evalkit("run", "bad.yaml", "--no-mlflow", cwd=folder)
    assert result.returncode == 2 and "bad.jsonl:1" in result.stderr and "field 'label'" in result.stderr
    assert "Traceback" not in result.stderr


def test_feedback_added_in_the_mlflow_ui_becomes_labels(work: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    import mlflow
    from mlflow.entities import AssessmentSource

    folder, truth = work
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = evalkit("run", "product.yaml", "--limit", "20", "--tracking-uri", uri, "--mlflow-traces", "all",
                     cwd=folder)
    assert result.returncode == 0 and ", 20 traces" in result.stdout, result.stdout + result.stderr
    parent = result.stdout.split("mlflow: run ")[1].split()[0].rstrip(",")

    # a reviewer marks 12 answers in the UI: what the UI does is log human feedback on the trace
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name("evalkit-product")
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list", max_results=100)
    for trace in traces[:12]:
        case = trace.info.tags["evalkit.case_id"]
        mlflow.log_feedback(trace_id=trace.info.trace_id, name="faithfulness", value=bool(truth[case]),
                            source=AssessmentSource(source_type="HUMAN", source_id="reviewer@example.com"))

    pulled = evalkit("labels", "pull", "--run", parent, "--tracking-uri", uri, "-o", "pulled.jsonl", cwd=folder)
    assert pulled.returncode == 0, pulled.stderr
    assert "pulled.jsonl: 12 human labels from 20 traces" in pulled.stdout
    labels = [json.loads(line) for line in (folder / "pulled.jsonl").read_text().splitlines()]
    assert {row["label"] for row in labels} <= {0.0, 1.0} and all(row["metric"] == "faithfulness" for row in labels)
    assert all(float(row["label"]) == truth[row["case_id"]] for row in labels)
    run_dir = max((folder / "reports" / "product").iterdir(), key=lambda p: p.name)
    reported = evalkit("report", str(run_dir), "--labels", "pulled.jsonl", cwd=folder)
    assert reported.returncode == 0 and "12 labels" in reported.stdout, reported.stdout + reported.stderr
