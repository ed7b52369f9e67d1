"""The 100,000-case x 4-candidate plan of docs/scale.md: a suite of 100,000 SQuAD 2.0 questions
(the 1,407 of suites/data/squad2 repeated with new ids) over its 173 paragraphs, with two RAG
pipelines, a closed-book model and a fine-tuned model, all gpt-4o-mini-class, and a model judge
for faithfulness; then `evalkit plan` on it (calls, tokens and dollars from the price table,
nothing called).
Usage: python benchmarks/plan_100k.py [--cases 100000] [--latency-s 1.0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "suites" / "data" / "squad2"
MODEL = "model: gpt-4o-mini, base_url: 'https://api.example.com/v1', api_key_env: null, concurrency: 64"
SUITE = f"""name: plan-100k
corpus: {{path: {DATA / 'corpus.jsonl'}}}
cases: {{path: cases.jsonl}}
candidates:
  - {{name: rag-bm25, kind: rag, retriever: {{kind: bm25, top_k: 4}}, generator: {{kind: chat, {MODEL}}}}}
  - {{name: rag-hybrid, kind: rag, retriever: {{kind: hybrid, top_k: 4}}, generator: {{kind: chat, {MODEL}}}}}
  - {{name: closed-book, kind: model, {MODEL}}}
  - {{name: fine-tuned, kind: model, {MODEL}}}
judge: {{kind: model, {MODEL}}}
metrics: [token_f1, recall@4, faithfulness, citation_precision, abstain_rate_unanswerable]
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--latency-s", default="1.0")
    args = parser.parse_args()
    cases = [json.loads(line) for line in (DATA / "cases.jsonl").read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (folder / "cases.jsonl").open("w") as handle:
            for i in range(args.cases):
                case = cases[i % len(cases)]
                handle.write(json.dumps({**case, "id": f"{case['id']}-{i // len(cases)}"}) + "\n")
        (folder / "plan.yaml").write_text(SUITE)
        subprocess.run([sys.executable, "-m", "evalkit", "plan", "plan.yaml", "--latency-s", args.latency_s],
                       cwd=folder, check=True)


if __name__ == "__main__":
    main()
