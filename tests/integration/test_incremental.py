"""Incremental re-runs: an unchanged suite computes nothing, and a change recomputes exactly what it
touches (one candidate, new cases, a new metric), counted at the local model server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_suite_file
from tests.fake_openai import FakeOpenAI, faithfulness_judge

CORPUS = [{"id": "d1", "text": "Aspirin reduces fever in adults. It is cheap."},
          {"id": "d2", "text": "Water boils at 100 degrees at sea level."}]


def write_suite(folder: Path, url: str, n_cases: int = 10, temperature: float = 0.0,
                metrics: str = "[recall@1, token_f1]", judge: bool = False) -> Path:
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    cases = "".join(f"  - {{id: q{i}, question: 'What reduces fever? ({i})', expected_sources: [d1], "
                    f"expected_answer: Aspirin}}\n" for i in range(n_cases))
    judged = f"judge: {{kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: null}}\n" if judge else ""
    path = folder / "suite.yaml"
    path.write_text(f"""name: incremental
corpus: {{path: corpus.jsonl}}
cases:
{cases}candidates:
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: null, temperature: {temperature}}}
  - name: rag
    kind: rag
    retriever: {{kind: bm25, top_k: 1}}
    generator: {{kind: chat, model: gpt-4o-mini, base_url: '{url}', api_key_env: null}}
metrics: {metrics}
{judged}""")
    return path


def calls(server: FakeOpenAI, since: int, kind: str = "answer") -> int:
    requests = server.requests[since:]
    return sum(bool(r["body"].get("response_format")) == (kind == "judge") for r in requests)


def test_an_unchanged_rerun_computes_nothing(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        first = run_suite_file(write_suite(tmp_path, server.base_url), tmp_path)
        before = len(server.requests)
        again = run_suite_file(write_suite(tmp_path, server.base_url), tmp_path)
    assert len(server.requests) == before == 20
    assert all(s["cached"] for s in again.samples)
    assert [c.metrics for c in again.summaries] == [c.metrics for c in first.summaries]


def test_changing_one_candidate_reruns_only_that_candidate(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        run_suite_file(write_suite(tmp_path, server.base_url), tmp_path)
        before = len(server.requests)
        changed = run_suite_file(write_suite(tmp_path, server.base_url, temperature=0.5), tmp_path)
    assert calls(server, before) == 10
    assert all(r["body"]["temperature"] == 0.5 for r in server.requests[before:])
    assert {s["candidate"] for s in changed.samples if not s["cached"]} == {"closed"}


def test_adding_cases_runs_only_the_new_ones(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        run_suite_file(write_suite(tmp_path, server.base_url, n_cases=10), tmp_path)
        before = len(server.requests)
        grown = run_suite_file(write_suite(tmp_path, server.base_url, n_cases=20), tmp_path)
    assert calls(server, before) == 20  # 10 new cases x 2 candidates
    assert sorted(s["case_id"] for s in grown.samples if not s["cached"]) == sorted(
        [f"q{i}" for i in range(10, 20)] * 2)


def test_adding_a_metric_computes_only_that_metric(tmp_path: Path) -> None:
    with FakeOpenAI(judge=faithfulness_judge) as server:
        run_suite_file(write_suite(tmp_path, server.base_url), tmp_path)
        before = len(server.requests)
        judged = run_suite_file(write_suite(tmp_path, server.base_url, metrics="[recall@1, token_f1, faithfulness]",
                                            judge=True), tmp_path)
        assert calls(server, before) == 0 and calls(server, before, "judge") == 10  # the rag answers are judged
        again = len(server.requests)
        run_suite_file(write_suite(tmp_path, server.base_url, metrics="[recall@1, token_f1, faithfulness]",
                                   judge=True), tmp_path)
    assert len(server.requests) == again  # and the judge's verdicts are kept too
    rag = [s for s in judged.samples if s["candidate"] == "rag"]
    assert all(s["scores"]["faithfulness"]["value"] == 1.0 for s in rag)


def test_cache_info_and_prune(tmp_path: Path) -> None:
    import subprocess
    import sys

    with FakeOpenAI() as server:
        run_suite_file(write_suite(tmp_path, server.base_url), tmp_path)

    def evalkit(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "evalkit", "cache", *args, "--cache-dir", str(tmp_path / "cache")],
                                capture_output=True, text=True, timeout=60, check=True)
        return result.stdout

    shown = evalkit("info")
    assert "stages output" in shown and "20 entries" in shown and "stages score" in shown and "40 entries" in shown
    assert "dropped 0 stage results" in evalkit("prune", "--max-mb", "100")
    assert "dropped 60 stage results" in evalkit("prune", "--max-mb", "0")
    assert "stages" not in evalkit("info")
