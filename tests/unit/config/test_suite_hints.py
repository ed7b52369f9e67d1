"""Likely mistakes in a suite get a line that says what was meant (what a new user met)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config.suite import load_suite
from evalkit.core.errors import EvalkitError

SUITE = """name: x
corpus: {path: corpus.jsonl}
cases: {path: cases.jsonl}
candidates:
  - {name: bm25, kind: rag, retriever: {kind: bm25, top_k: 1}}
metrics: [recall@1]
"""


@pytest.mark.parametrize(("change", "said"), [
    (("cases: {path: cases.jsonl}", "cases: {path: cases.jsonl, limit: 0}"),
     "suite.yaml:3: cases.limit: input should be greater than or equal to 1"),
    (("corpus: {path: corpus.jsonl}", "corpus: corpus.jsonl"),
     "suite.yaml:2: corpus: expected a mapping, got the text 'corpus.jsonl' (hint: write corpus: {path: corpus.jsonl})"),
    (("{name: bm25, kind: rag, retriever: {kind: bm25, top_k: 1}}", "{name: fn, kind: python, function: mybot.answer_k3}"),
     "candidates[0].function: 'mybot.answer_k3' is not module:function (did you mean 'mybot:answer_k3'?)"),
    (("metrics: [recall@1]", "metrics: [recall@1]\nverdict: {pairs: [[bm25, bm26]]}"),
     "suite.yaml:7: verdict.pairs[0][1]: verdict pair names unknown candidate 'bm26' (hint: did you mean 'bm25'?)"),
    (("metrics: [recall@1]", "metrics: [recall_at_1]"),
     "metrics[0]: unknown metric 'recall_at_1' (hint: did you mean 'recall@1'? (MLflow shows @ as _at_))"),
])
def test_a_likely_mistake_names_what_was_meant(tmp_path: Path, change: tuple[str, str], said: str) -> None:
    (tmp_path / "corpus.jsonl").write_text('{"id": "d1", "text": "Refunds take 30 days."}\n')
    (tmp_path / "cases.jsonl").write_text('{"id": "q1", "question": "How long?", "expected_sources": ["d1"]}\n')
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace(*change))
    with pytest.raises(EvalkitError) as info:
        load_suite(suite)
    assert said in str(info.value)
