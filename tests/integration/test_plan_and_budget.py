"""`evalkit plan` counts tokens with a real tokenizer without calling anything; a budget stops a run
within one round of calls of its cap, and the stopped run resumes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import evalkit
from tests.fake_openai import FakeOpenAI

SUITE = """name: budget
cases:
{cases}candidates:
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: null, concurrency: 2,
      price: {{input: 1000, output: 1000}}}}
metrics: [token_f1]
{budget}"""


def write_suite(folder: Path, url: str, budget: str = "", n_cases: int = 20) -> Path:
    cases = "".join(f"  - {{id: q{i}, question: 'Question number {i}?', expected_answer: x}}\n" for i in range(n_cases))
    path = folder / "suite.yaml"
    path.write_text(SUITE.format(cases=cases, url=url, budget=budget))
    return path


def test_plan_counts_tokens_with_the_models_tokenizer_and_calls_nothing(tmp_path: Path) -> None:
    import tiktoken

    from evalkit.candidates.prompts import TEMPLATES
    from evalkit.runner.estimate import _encoding

    with FakeOpenAI() as server:
        result = evalkit("plan", str(write_suite(tmp_path, server.base_url, n_cases=3)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.requests == []
    encoding, name = _encoding("gpt-4o-mini")
    assert name == "o200k_base" == tiktoken.encoding_for_model("gpt-4o-mini").name
    tokens = sum(len(encoding.encode(TEMPLATES["closed-book-chat-v1"].system + f"Question number {i}?")) for i in range(3))
    cost = (tokens * 1000 + 3 * 150 * 1000) / 1e6
    row = next(line for line in result.stdout.splitlines() if "candidate:closed" in line)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[:6] == ["candidate:closed", "gpt-4o-mini", "3", f"{tokens:,}", "450", f"${cost:.4f}"]
    assert "o200k_base" in row


def test_a_budget_stops_new_work_and_the_run_resumes(tmp_path: Path) -> None:
    # each call: 100 + 20 tokens at $1000 per million = $0.12; the cap of $0.50 is reached after 5 calls
    with FakeOpenAI(latency_s=0.05) as server:
        path = write_suite(tmp_path, server.base_url, budget="budget: {max_usd: 0.5}\n")
        stopped = evalkit("run", str(path), "--no-mlflow", cwd=tmp_path)
        assert stopped.returncode == 3, stopped.stderr
        calls = len(server.requests)
        # samples that started before the cap was seen finish: at most one batch (4 in flight) past it
        assert 5 <= calls <= 5 + 3
        last = stopped.stderr.strip().splitlines()[-1]
        assert last.startswith("stopped: budget reached: $0.") and "of max_usd $0.5" in last
        assert last.endswith("continue it with --resume)")
        (run,) = (tmp_path / "reports" / "budget").iterdir()
        assert len((run / "samples.jsonl").read_text().splitlines()) == calls
        resumed = evalkit("run", str(path), "--resume", "--max-usd", "10", "--no-mlflow", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert len(server.requests) == 20  # each case called once in all
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["n_samples"] == 20


def test_plan_does_not_call_a_teams_own_pipeline_free(tmp_path: Path) -> None:
    (tmp_path / "mybot.py").write_text("def answer(question):\n    return 'forty-two'\n")
    (tmp_path / "own.yaml").write_text("name: own\ncases:\n  - {id: q1, question: 'Why?', expected_answer: 'x'}\n"
                                       "candidates:\n  - {name: mine, kind: python, function: 'mybot:answer'}\n"
                                       "metrics: [token_f1]\n")
    result = evalkit("plan", "own.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "costs nothing" not in result.stdout
    assert "mine runs your own code or service, whose model calls evalkit cannot see or count" in result.stdout
