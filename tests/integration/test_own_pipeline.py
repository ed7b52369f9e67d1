"""A team's own pipeline as a `python` candidate, the way a new user brings it: a real llama-index
BM25 retriever over their documents, returning its sources with their texts, citing them with
`[doc id]` marks in the answer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import evalkit

DOCUMENTS = {
    "git-stash.txt": "git stash -a stashes all files, including untracked and ignored ones. "
                     "git stash pop applies the latest stash and removes it from the stash list.",
    "git-rebase.txt": "git rebase -i opens an editor listing the commits to rebase. "
                      "Commits marked squash are melded into the previous commit.",
    "git-bisect.txt": "git bisect start begins a binary search for the commit that introduced a bug. "
                      "git bisect reset returns to the original branch.",
}
PIPELINE = '''
from llama_index.core import Document
from llama_index.retrievers.bm25 import BM25Retriever

_documents = [Document(text=text, doc_id=doc_id) for doc_id, text in DOCUMENTS.items()]
_retriever = BM25Retriever.from_defaults(nodes=_documents, similarity_top_k=1)


def _retrieve(question):
    return [(hit.node.ref_doc_id or hit.node.node_id, hit.node.get_content()) for hit in _retriever.retrieve(question)]


def answer(question):
    """A grounded answer: the top passage's first sentence, cited."""
    hits = _retrieve(question)
    doc_id, text = hits[0]
    return {"answer": text.split(". ")[0] + f". [{doc_id}]",
            "sources": [{"id": d, "text": t} for d, t in hits], "query": question.lower()}


def answer_without_texts(question):
    """What a hurried user returns: the ids alone."""
    hits = _retrieve(question)
    doc_id, text = hits[0]
    return {"answer": text.split(". ")[0] + f". [{doc_id}]", "sources": [{"id": d} for d, _ in hits]}
'''


def test_a_llama_index_pipeline_gets_faithfulness_and_citations(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n"
                                                   for k, v in DOCUMENTS.items()))
    (tmp_path / "mybot.py").write_text(f"DOCUMENTS = {DOCUMENTS!r}\n{PIPELINE}")
    (tmp_path / "suite.yaml").write_text("""name: own-pipeline
corpus: {path: corpus.jsonl}
cases:
  - {id: stash, question: 'How do I stash untracked files too?', expected_sources: [git-stash.txt]}
  - {id: squash, question: 'How do I squash commits in an interactive rebase?', expected_sources: [git-rebase.txt]}
  - {id: bisect, question: 'How do I find the commit that introduced a bug?', expected_sources: [git-bisect.txt]}
candidates:
  - {name: mine, kind: python, function: 'mybot:answer'}
  - {name: ids-only, kind: python, function: 'mybot:answer_without_texts'}
metrics: [recall@1, citation_recall, citation_precision, faithfulness]
""")
    result = evalkit("run", "suite.yaml", "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [folder] = (tmp_path / "reports" / "own-pipeline").iterdir()
    summary = {c["name"]: c["metrics"] for c in json.loads((folder / "summary.json").read_text())["candidates"]}
    mine, ids_only = summary["mine"], summary["ids-only"]
    assert mine["recall@1"]["value"] == 1.0
    assert mine["faithfulness"]["value"] == 1.0 and mine["faithfulness"]["n"] == 3  # judged against the texts
    assert mine["citation_recall"]["value"] == 1.0 and mine["citation_precision"]["value"] == 1.0  # [doc id] marks
    assert ids_only["faithfulness"]["value"] is None and ids_only["faithfulness"]["n_skipped"] == 3  # never a 0
    assert ids_only["citation_recall"]["value"] == 1.0
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert all(s["output"]["passages"][0]["text"] for s in samples if s["candidate"] == "mine")
    assert all(s["output"]["query"] == s["question"].lower() for s in samples if s["candidate"] == "mine")
    assert "faithfulness is not applicable to any of ids-only's 3 samples: the candidate returned its sources " \
           "without their texts" in result.stdout + result.stderr


def test_a_missing_module_fails_validation_and_an_exception_says_where(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"id": "d1", "text": "x"}) + "\n")
    (tmp_path / "mybot.py").write_text("def answer(question):\n    return {}['sources']\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text("""name: broken
cases:
  - {id: q1, question: 'Why?', expected_answer: because}
candidates:
  - {name: mine, kind: python, function: 'mybot:answer'}
  - {name: typo, kind: python, function: 'mybott:answer'}
metrics: [token_f1]
max_error_rate: 1.0
""")
    invalid = evalkit("validate", "suite.yaml", cwd=tmp_path)
    assert invalid.returncode == 2 and "python candidate 'typo': no module 'mybott' to import" in invalid.stderr
    suite.write_text(suite.read_text().replace("  - {name: typo, kind: python, function: 'mybott:answer'}\n", ""))
    result = evalkit("run", "suite.yaml", "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"KeyError: 'sources' (raised at {tmp_path / 'mybot.py'}:2 in answer)" in result.stdout


def test_one_function_serves_several_candidates_through_params_and_reads_the_case(tmp_path: Path) -> None:
    """`params:` goes to a function that takes `params` (top 1 against top 3 without two functions),
    and `case` gives it the case (its id, tags, expected sources)."""
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in DOCUMENTS.items()))
    ids = sorted(DOCUMENTS)
    (tmp_path / "tuned.py").write_text(
        f"IDS = {ids!r}\n"
        "def answer(question, params, case):\n"
        "    return {'answer': case['id'] + ' ' + ','.join(case['tags']), 'sources': IDS[:params['top_k']]}\n")
    (tmp_path / "suite.yaml").write_text("""name: tuned
corpus: {path: corpus.jsonl}
cases:
  - {id: stash, question: 'How do I stash?', expected_sources: [git-stash.txt], tags: [stash]}
candidates:
  - {name: top1, kind: python, function: 'tuned:answer', params: {top_k: 1}}
  - {name: top3, kind: python, function: 'tuned:answer', params: {top_k: 3}}
metrics: [recall@3]
""")
    result = evalkit("run", "suite.yaml", "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [folder] = (tmp_path / "reports" / "tuned").iterdir()
    samples = {s["candidate"]: s for s in map(json.loads, (folder / "samples.jsonl").read_text().splitlines())}
    assert len(samples["top1"]["output"]["passages"]) == 1 and len(samples["top3"]["output"]["passages"]) == 3
    assert samples["top3"]["scores"]["recall@3"]["value"] == 1.0
    assert samples["top1"]["output"]["answer"] == "stash stash"
    header = json.loads((folder / "header.json").read_text())
    hashes = {c["name"]: c["config_hash"] for c in header["candidates"]}
    assert hashes["top1"] != hashes["top3"]  # params are part of the candidate's config
