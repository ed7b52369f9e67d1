"""Cases from a Hugging Face dataset (saved on disk, or a parquet file read by `datasets`), and a run
exported back for pandas and datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import evalkit, write_jsonl


def suite(tmp_path: Path, cases: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(f"name: from-dataset\ncorpus: {{path: corpus.jsonl}}\ncases: {cases}\ncandidates:\n"
                    "  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: 5}}\n"
                    "metrics: [recall@5, mrr, faithfulness]\n")
    return path


@pytest.fixture
def claims(tmp_path: Path, scifact_slice: tuple[list[dict], list[dict]]) -> list[dict]:
    cases, documents = scifact_slice
    write_jsonl(tmp_path / "corpus.jsonl", documents)
    # the team's own column names, as a dataset on the hub or in their warehouse would have them
    return [{"qid": c["id"], "claim": c["question"], "gold_docs": c["expected_sources"], "label": c["tags"][0]}
            for c in cases]


def test_cases_from_a_saved_dataset_and_from_parquet_run_and_export(tmp_path: Path, claims: list[dict]) -> None:
    import datasets
    import pandas as pd

    table = datasets.Dataset.from_list(claims)
    datasets.DatasetDict({"train": table.select(range(2)), "test": table}).save_to_disk(str(tmp_path / "saved"))
    table.to_parquet(str(tmp_path / "claims.parquet"))
    columns = "{id: qid, question: claim, expected_sources: gold_docs}"
    saved = evalkit("run", str(suite(tmp_path, f"{{dataset: saved, columns: {columns}}}")), "--no-mlflow", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    parquet = evalkit("run", str(suite(tmp_path, f"{{dataset: claims.parquet, columns: {columns}}}")), "--no-mlflow",
                      cwd=tmp_path)
    assert parquet.returncode == 0, parquet.stderr
    runs = sorted((tmp_path / "reports" / "from-dataset").iterdir())
    assert len(runs) == 2
    first, second = ([json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()] for run in runs)
    assert len(first) == len(claims) == len(second)  # the test split, every row
    assert {s["case_id"] for s in first} == {c["qid"] for c in claims}
    assert [s["scores"]["recall@5"] for s in sorted(first, key=lambda s: s["position"])] == \
        [s["scores"]["recall@5"] for s in sorted(second, key=lambda s: s["position"])]

    exported = evalkit("export", str(runs[0]), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    frame = pd.read_parquet(runs[0] / "samples.parquet")
    assert len(frame) == len(claims)
    by_case = {s["case_id"]: s for s in first}
    for row in frame.to_dict("records"):
        sample = by_case[row["case_id"]]
        assert row["score.recall@5"] == sample["scores"]["recall@5"]["value"]
        assert list(row["retrieved_ids"]) == sample["output"]["retrieved_ids"]
    folder = evalkit("export", str(runs[0]), "--format", "dataset", cwd=tmp_path)
    assert folder.returncode == 0, folder.stderr
    loaded = datasets.load_from_disk(str(runs[0] / "dataset"))
    assert loaded.num_rows == len(claims) and "score.faithfulness" in loaded.column_names


def test_a_missing_column_or_split_is_one_line_naming_the_dataset(tmp_path: Path, claims: list[dict]) -> None:
    import datasets

    datasets.Dataset.from_list(claims).save_to_disk(str(tmp_path / "saved"))
    wrong = evalkit("validate", str(suite(tmp_path, "{dataset: saved, columns: {question: text}}")), cwd=tmp_path)
    assert wrong.returncode == 2
    assert "the dataset has no column 'text'" in wrong.stderr and "its columns: qid, claim" in wrong.stderr
    assert "Traceback" not in wrong.stderr
