"""What it costs to bring each approach up to date when a fact changes (docs/rag-vs-finetune.md):
RAG rebuilds its index over the corpus with the new document; a fine-tuned model is retrained.

    nox -s bench -- benchmarks/bench_update.py

The index rebuild is timed here (the SituatedQA corpus plus one new dated document, chunked and
indexed by BM25 from a cold cache, median of 5); the retrain is what the situatedqa recipe's last
run recorded (suites/data/situatedqa/finetune/training.json: loading the model and training).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from evalkit.config.corpus import load_corpus
from evalkit.retrieval.indexes import build_index

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "suites" / "data" / "situatedqa"
SETTINGS = {"kind": "bm25", "chunk_size": 512, "chunk_overlap": 32}


def rebuild_s() -> float:
    with tempfile.TemporaryDirectory() as folder:
        rows = (DATA / "corpus.jsonl").read_text(encoding="utf-8")
        new = {"id": "new-fact@2022", "text": "From 2022, the answer to who won the last world cup is Argentina.",
               "valid_from": "2022"}
        corpus_file = Path(folder) / "corpus.jsonl"
        corpus_file.write_text(rows + json.dumps(new) + "\n", encoding="utf-8")
        started = time.perf_counter()
        build_index(load_corpus(corpus_file), SETTINGS, Path(folder) / "cache", {})
        return time.perf_counter() - started


def main() -> None:
    rebuild_s()  # imports and first-call costs out of the way
    rebuilds = sorted(rebuild_s() for _ in range(5))
    record = json.loads((DATA / "finetune" / "training.json").read_text(encoding="utf-8"))
    retrain = record["run"]["load_s"] + record["run"]["train_s"]
    print(f"RAG: rebuild the BM25 index over {sum(1 for _ in (DATA / 'corpus.jsonl').open()) + 1} documents: "
          f"median {statistics.median(rebuilds) * 1000:.0f} ms (min {rebuilds[0] * 1000:.0f}, "
          f"max {rebuilds[-1] * 1000:.0f}; 5 runs)")
    print(f"fine-tuning: retrain the adapter ({record['data']['examples']} examples, {record['run']['steps']} steps, "
          f"{record['run']['threads']} threads): {retrain:.0f} s recorded ({record['run']['load_s']:.0f} s loading, "
          f"{record['run']['train_s']:.0f} s training), {retrain / statistics.median(rebuilds):,.0f}x the rebuild")


if __name__ == "__main__":
    main()
