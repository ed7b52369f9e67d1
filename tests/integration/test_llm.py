"""Model-backed candidates and judges over real HTTP to a local OpenAI-compatible server:
retries, timeouts, garbage, cache, cost, skips, secrets, ragas's judged faithfulness."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.config.suite import load_suite
from evalkit.core.errors import ExitCode
from evalkit.runner.pipeline import RunOptions, run_suite
from tests.conftest import run_suite_file
from tests.fake_openai import FakeOpenAI, faithfulness_judge

CORPUS = [{"id": "d1", "title": "Aspirin", "text": "Aspirin reduces fever in adults. It is cheap."},
          {"id": "d2", "title": "Water", "text": "Water boils at 100 degrees at sea level."}]

SUITE = """name: models
corpus: {{path: corpus.jsonl}}
cases:
  - {{id: q1, question: 'What reduces fever?', expected_sources: [d1]{q1_extra}}}
  - {{id: q2, question: 'When does water boil?', expected_sources: [d2]}}
candidates:
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: EVALKIT_TEST_KEY,
      timeout_s: 0.5, max_retries: 2}}
  - name: rag-chat
    kind: rag
    retriever: {{kind: bm25, top_k: 1}}
    generator: {{kind: chat, model: gpt-4o-mini, base_url: '{url}', api_key_env: EVALKIT_TEST_KEY}}
metrics: {metrics}
{gates}max_error_rate: 1.0
{extra}"""


def make_suite(tmp_path: Path, server: FakeOpenAI, extra: str = "", metrics: str = "[recall@1, faithfulness]",
               gate: bool = True, q1_answer: str | None = None) -> Path:
    """The two-candidate suite above; `extra` adds top-level keys (e.g. a judge)."""
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.format(url=server.base_url, extra=extra, metrics=metrics,
                                 gates="gates:\n  - {metric: recall@1, min: 0.5}\n" if gate else "",
                                 q1_extra=f", expected_answer: '{q1_answer}'" if q1_answer else ""))
    return path


def judge_section(server: FakeOpenAI, key_env: str = "EVALKIT_TEST_KEY") -> str:
    return f"judge: {{model: gpt-4o-mini, base_url: '{server.base_url}', api_key_env: {key_env}}}\n"


def run(path: Path, tmp_path: Path, **options):
    return run_suite_file(path, tmp_path, **options)


def by(outcome, candidate: str, case: str) -> dict:
    return next(s for s in outcome.samples if s["candidate"] == candidate and s["case_id"] == case)


def test_answers_citations_usage_and_cost(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        outcome = run(make_suite(tmp_path, server), tmp_path)
    assert len(server.requests) == 4  # 2 cases x 2 candidates
    assert all(r["headers"]["authorization"] == f"Bearer {key}" for r in server.requests)
    rag = by(outcome, "rag-chat", "q1")["output"]
    assert rag["answer"] == "Aspirin\nAspirin reduces fever in adults. [d1]" and rag["citations"] == ["d1"]
    assert by(outcome, "closed", "q1")["output"]["answer"] == "I answer from memory."
    usage = json.loads((outcome.folder / "usage.json").read_text())["candidate:closed"]
    assert usage["calls"] == 2 and usage["prompt_tokens"] == 200 and usage["completion_tokens"] == 40
    assert usage["cost_usd"] == pytest.approx(2 * (100 * 0.15 + 20 * 0.60) / 1e6)


def test_compressed_answers_are_read(tmp_path: Path, key: str) -> None:
    with FakeOpenAI(gzip=True) as server:
        outcome = run(make_suite(tmp_path, server), tmp_path)
    assert all("gzip" in r["headers"]["accept-encoding"] for r in server.requests)  # so the server compressed
    assert by(outcome, "rag-chat", "q1")["output"]["answer"] == "Aspirin\nAspirin reduces fever in adults. [d1]"
    assert all(not s["output"]["error"] for s in outcome.samples)


def test_retries_on_429_and_500_then_succeeds(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        server.faults = ["429", "500"]
        outcome = run(make_suite(tmp_path, server), tmp_path, concurrency=1)
    usage = json.loads((outcome.folder / "usage.json").read_text())["candidate:closed"]
    assert usage["retries"] == 2 and usage["calls"] == 4 and usage["failures"] == 0
    assert all(not s["output"]["error"] for s in outcome.samples)


def test_faults_become_per_sample_errors(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        server.faults = ["hang", "hang", "hang", "garbage", "empty"]  # closed q1 times out (3 tries), q2 garbage
        outcome = run(make_suite(tmp_path, server), tmp_path, concurrency=1)
    errors = {s["candidate"] + ":" + s["case_id"]: s["output"]["error"] for s in outcome.samples}
    assert errors["closed:q1"] == "ModelCallError: timed out after 0.5 s (2 retries)"
    assert errors["closed:q2"].startswith("ModelCallError: malformed response from gpt-4o-mini")
    assert errors["rag-chat:q1"] == "ModelCallError: gpt-4o-mini returned no choices"
    assert errors["rag-chat:q2"] is None
    summary = {s.name: s for s in outcome.summaries}
    assert summary["closed"].n_failed == 2 and summary["closed"].metrics["recall@1"].n_errors == 2


def test_unreachable_endpoint_is_a_per_sample_error(tmp_path: Path, key: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "suite.yaml").write_text(
        "name: down\ncases:\n  - {id: q1, question: 'What reduces fever?', expected_answer: aspirin}\n"
        f"candidates:\n  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: 'http://127.0.0.1:{port}/v1',"
        " api_key_env: EVALKIT_TEST_KEY, max_retries: 1}\nmetrics: [token_f1]\nmax_error_rate: 1.0\n")
    outcome = run(tmp_path / "suite.yaml", tmp_path)
    error = outcome.samples[0]["output"]["error"]
    assert error.startswith(f"ModelCallError: cannot reach http://127.0.0.1:{port}/v1"), error
    assert json.loads((outcome.folder / "usage.json").read_text())["candidate:closed"]["calls"] == 2  # 1 retry


def test_calls_go_through_the_proxy_the_environment_names(tmp_path: Path, key: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FakeOpenAI() as proxy:  # answers the absolute-form requests a client sends to an HTTP proxy
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
        (tmp_path / "suite.yaml").write_text(
            "name: proxied\ncases:\n  - {id: q1, question: 'What reduces fever?', expected_answer: aspirin}\n"
            "candidates:\n  - {name: closed, kind: model, model: gpt-4o-mini, base_url: 'http://models.example.invalid/v1',"
            " api_key_env: EVALKIT_TEST_KEY, max_retries: 0}\nmetrics: [token_f1]\n")
        outcome = run(tmp_path / "suite.yaml", tmp_path)
    assert outcome.samples[0]["output"]["answer"] == "I answer from memory."
    assert [r["headers"]["host"] for r in proxy.requests] == ["models.example.invalid"]


def test_a_local_server_that_takes_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as server:
        (tmp_path / "suite.yaml").write_text(
            "name: local\ncases:\n  - {id: q1, question: 'What reduces fever?', expected_answer: aspirin}\n"
            f"candidates:\n  - {{name: vllm, kind: model, model: my-finetune, base_url: '{server.base_url}',"
            " api_key_env: null}\nmetrics: [token_f1]\n")
        outcome = run(tmp_path / "suite.yaml", tmp_path)
    assert outcome.header["candidates"][0]["skipped"] is None
    assert outcome.samples[0]["output"]["answer"] == "I answer from memory."


def test_run_closes_its_connections(tmp_path: Path, key: str) -> None:
    with FakeOpenAI(judge=faithfulness_judge) as server:
        suite = load_suite(make_suite(tmp_path, server, judge_section(server)))

        async def run_and_count() -> int:
            await run_suite(suite, RunOptions(reports_dir=tmp_path / "reports", cache_dir=tmp_path / "cache",
                                              use_cache=False))
            await asyncio.sleep(0.2)  # the server notices a closed connection on its next read
            return server.open_connections()

        assert asyncio.run(run_and_count()) == 0
        assert len(server.requests) > 4  # candidates' and judge's calls were made


def test_warm_rerun_makes_no_calls_and_refresh_and_no_cache_do(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        path = make_suite(tmp_path, server)
        run(path, tmp_path)
        assert len(server.requests) == 4
        warm = run(path, tmp_path)
        assert len(server.requests) == 4  # zero network calls
        assert all(s["cached"] for s in warm.samples)  # outputs replayed: no candidate was even built
        assert "candidate:closed" not in json.loads((warm.folder / "usage.json").read_text())
        (warm_sample,) = [s for s in warm.samples if s["candidate"] == "closed" and s["case_id"] == "q1"]
        assert warm_sample["output"]["cost_usd"] > 0  # the original call's cost, kept with its output
        run(path, tmp_path, refresh=True)
        assert len(server.requests) == 8
        run(path, tmp_path, use_cache=False)
        assert len(server.requests) == 12


def test_missing_key_skips_candidate_and_fails_its_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALKIT_TEST_KEY", raising=False)
    with FakeOpenAI() as server:
        path = make_suite(tmp_path, server)
        outcome = run(path, tmp_path)
        assert server.requests == []
        allowed = run(path, tmp_path, allow_skipped=True)
    assert outcome.samples == [] and outcome.exit_code == ExitCode.GATE_FAILED
    verdict = outcome.verdicts[0]
    assert verdict.message == "candidate skipped: EVALKIT_TEST_KEY is not set" and not verdict.passed
    assert {s.name: s.skipped for s in outcome.summaries}["closed"] == "EVALKIT_TEST_KEY is not set"
    assert allowed.exit_code == ExitCode.OK


def test_ragas_faithfulness_withfaithfulness_judge(tmp_path: Path, key: str) -> None:
    answers = {"q1": "Aspirin reduces fever. Aspirin was invented on the moon.", "q2": "Aspirin boils water."}

    def answer(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        return answers["q1"] if "fever" in prompt else answers["q2"]

    with FakeOpenAI(answer_for=answer, judge=faithfulness_judge) as server:
        extra = judge_section(server)
        outcome = run(make_suite(tmp_path, server, extra), tmp_path)
    scores = {(s["candidate"], s["case_id"]): s["scores"]["faithfulness"] for s in outcome.samples}
    assert scores[("rag-chat", "q1")]["value"] == 0.5  # 1 of 2 statements supported
    assert scores[("rag-chat", "q2")]["value"] == 1.0
    assert outcome.header["metrics"][1]["judge"] == f"gpt-4o-mini@{server.base_url}"
    assert outcome.header["judge"]["kind"] == "ragas" and "uncalibrated" in outcome.header["judge"]["agreement"]
    judge_usage = json.loads((outcome.folder / "usage.json").read_text())[f"judge:gpt-4o-mini@{server.base_url}"]
    assert judge_usage["calls"] == 4  # 2 calls per judged sample (statements, then verdicts)


def test_judge_prompts_render_exactly_as_ragas_renders_them(tmp_path: Path, key: str) -> None:
    """evalkit computes each output schema once; the prompts sent must still be ragas's own, byte for byte."""
    from ragas.prompt.metrics.base_prompt import BasePrompt

    from evalkit.judges.ragas import RagasJudge
    from evalkit.metrics.ragas import JUDGED
    from evalkit.models.endpoints import CacheSettings, EndpointSpec
    from evalkit.models.llm import close_connections

    async def compare() -> int:
        spec = EndpointSpec(model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key_env="EVALKIT_TEST_KEY")
        judge = RagasJudge(spec, CacheSettings(tmp_path / "cache"))
        compared = 0
        for class_name in ["Faithfulness", *(name for name, _, _ in JUDGED.values())]:
            for prompt in vars(judge.metric(class_name)).values():
                if isinstance(prompt, BasePrompt):
                    ragas_own = type(prompt)()
                    for example_input, _ in ragas_own.examples:
                        assert prompt.to_string(example_input) == ragas_own.to_string(example_input)
                        compared += 1
        await close_connections()
        return compared

    assert asyncio.run(compare()) >= 6


def test_judge_reply_off_schema_is_a_per_sample_error_and_a_fenced_reply_is_read(tmp_path: Path, key: str) -> None:
    def judge(schema: str, given: dict) -> str:
        if "boils" in given.get("answer", ""):
            return json.dumps({"claims": ["not the schema"]})
        reply = faithfulness_judge(schema, given)
        return f"```json\n{reply}\n```" if schema == "NLIStatementOutput" else reply

    answers = {"q1": "Aspirin reduces fever.", "q2": "Aspirin boils water."}
    with FakeOpenAI(answer_for=lambda body: answers["q1" if "fever" in str(body) else "q2"], judge=judge) as server:
        outcome = run(make_suite(tmp_path, server, judge_section(server), gate=False), tmp_path)
    assert by(outcome, "rag-chat", "q1")["scores"]["faithfulness"]["value"] == 1.0
    error = by(outcome, "rag-chat", "q2")["scores"]["faithfulness"]["error"]
    assert "not a valid StatementGeneratorOutput (statements: Field required)" in error


def test_http_and_python_candidates(tmp_path: Path) -> None:
    (tmp_path / "my_bot.py").write_text(
        "def answer(question):\n    return {'answer': 'Water boils at 100 degrees.', 'sources': ['d2']}\n")
    with FakeOpenAI() as server:
        url = server.base_url.replace("/v1", "/ask")
        text = f"""name: teams
corpus: {{path: corpus.jsonl}}
cases:
  - {{id: q1, question: 'When does water boil?', expected_sources: [d2]}}
candidates:
  - {{name: api, kind: http, url: '{url}', answer_path: data.text, sources_path: data.sources}}
  - {{name: fn, kind: python, function: 'my_bot:answer'}}
metrics: [recall@1, mrr]
"""
        (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
        (tmp_path / "teams.yaml").write_text(text)
        outcome = run(tmp_path / "teams.yaml", tmp_path)
    api, fn = by(outcome, "api", "q1"), by(outcome, "fn", "q1")
    assert server.requests[0]["body"] == {"question": "When does water boil?"}
    assert api["output"]["answer"] == "About: When does water boil?" and api["output"]["retrieved_ids"] == ["d1", "d2"]
    assert api["scores"]["mrr"]["value"] == 0.5
    assert fn["output"]["retrieved_ids"] == ["d2"] and fn["scores"]["recall@1"]["value"] == 1.0


def test_planted_key_appears_in_no_output(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        path = make_suite(tmp_path, server)
        env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache"), "EVALKIT_TEST_KEY": key}
        result = subprocess.run([sys.executable, "-m", "evalkit", "run", str(path), "--junit", "j.xml",
                                 "--markdown", "s.md"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr
    assert "Unclosed" not in result.stderr  # every connection was closed
    assert key not in result.stdout + result.stderr
    leaks = [str(p) for p in tmp_path.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert leaks == []
    assert (tmp_path / "mlflow.db").is_file() and list((tmp_path / "cache" / "llm").rglob("*.json"))


def test_a_key_pasted_as_the_variable_name_is_refused_without_echoing_it(tmp_path: Path) -> None:
    from evalkit.core.errors import EvalkitError

    pasted = "sk-proj-PASTED-77c1"
    (tmp_path / "suite.yaml").write_text(
        "name: pasted\ncases:\n  - {id: q1, question: 'What reduces fever?', expected_answer: aspirin}\n"
        "candidates:\n  - name: closed\n    kind: model\n    model: gpt-4o-mini\n"
        f"    api_key_env: {pasted}\nmetrics: [token_f1]\n")
    with pytest.raises(EvalkitError) as caught:
        load_suite(tmp_path / "suite.yaml")
    assert ("suite.yaml:8: candidates[0].api_key_env: this takes the name of an environment "
            "variable") in str(caught.value)
    assert pasted not in str(caught.value)


def test_ragas_context_recall_withfaithfulness_judge(tmp_path: Path, key: str) -> None:
    def judge(schema: str, given: dict) -> str:
        assert schema == "ContextRecallOutput", schema
        # the reference has two sentences; the one about fever is in the retrieved context
        return json.dumps({"classifications": [
            {"statement": s, "reason": "scripted", "attributed": int("fever" in s and "fever" in given["context"])}
            for s in given["answer"].split(". ")]})

    with FakeOpenAI(judge=judge) as server:
        path = make_suite(tmp_path, server, judge_section(server), "[context_recall]", gate=False,
                          q1_answer="Aspirin lowers fever. It is cheap")
        outcome = run(path, tmp_path)
    scores = {(s["candidate"], s["case_id"]): s["scores"]["context_recall"] for s in outcome.samples}
    assert scores[("rag-chat", "q1")]["value"] == 0.5
    assert scores[("rag-chat", "q2")]["skipped"] == "case has no expected_answer"
    assert scores[("closed", "q1")]["skipped"] == "no retrieved passages (a closed-book answer)"


def test_model_judged_metric_without_judge_is_a_suite_error(tmp_path: Path) -> None:
    from evalkit.core.errors import EvalkitError

    with FakeOpenAI() as server:
        path = make_suite(tmp_path, server, metrics="[recall@1, context_recall]", q1_answer="x")
    with pytest.raises(EvalkitError, match="metric 'context_recall' is judged by a model, and the suite has no model judge"):
        load_suite(path)


def test_ragas_answer_relevancy_withfaithfulness_judge(tmp_path: Path, key: str) -> None:
    def judge(schema: str, given: dict) -> str:
        assert schema == "AnswerRelevanceOutput", schema
        evasive = "memory" in given["response"]  # the closed-book script answers "I answer from memory."
        return json.dumps({"question": "What reduces fever?", "noncommittal": int(evasive)})

    with FakeOpenAI(judge=judge) as server:
        outcome = run(make_suite(tmp_path, server, judge_section(server), "[answer_relevancy]", gate=False), tmp_path)
    scores = {(s["candidate"], s["case_id"]): s["scores"]["answer_relevancy"]["value"] for s in outcome.samples}
    assert scores[("rag-chat", "q1")] == pytest.approx(1.0, abs=1e-5)  # generated question == the question
    assert 0.0 < scores[("rag-chat", "q2")] < 0.5  # a question about fever for a question about water
    assert scores[("closed", "q1")] == 0.0  # noncommittal


def test_calibrate_the_suites_model_judge(tmp_path: Path, key: str) -> None:
    rows = [{"question": "q", "contexts": ["Aspirin reduces fever."], "answer": a, "label": label}
            for a, label in [("Aspirin reduces fever.", 1), ("Aspirin was invented on the moon.", 0),
                             ("Aspirin is cheap.", 1), ("It was invented in 1899.", 1)]]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with FakeOpenAI(judge=faithfulness_judge) as server:
        extra = judge_section(server)
        path = make_suite(tmp_path, server, extra)
        env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
        result = subprocess.run([sys.executable, "-m", "evalkit", "calibrate", "labels.jsonl", "--suite", str(path),
                                 "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                                check=False)
    assert result.returncode == 0, result.stderr
    assert "Unclosed" not in result.stderr  # the judge's connections were closed
    figures = json.loads(result.stdout)
    assert figures["judge"] == f"gpt-4o-mini@{server.base_url}" and figures["n"] == 4
    # the scripted judge rejects both "invented" answers; one of them is labelled supported
    assert figures["configured"]["balanced_accuracy"]["value"] == pytest.approx((2 / 3 + 1) / 2)
    assert len(server.requests) == 8  # 2 judge calls per row
    assert not (tmp_path / "reports").exists()  # measuring wrote nothing


def test_missing_judge_key_skips_judged_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    with FakeOpenAI() as server:
        extra = judge_section(server, "EVALKIT_JUDGE_KEY")
        monkeypatch.delenv("EVALKIT_JUDGE_KEY", raising=False)
        outcome = run(make_suite(tmp_path, server, extra), tmp_path)
    score = by(outcome, "rag-chat", "q1")["scores"]["faithfulness"]
    assert score == {"skipped": "judge skipped: EVALKIT_JUDGE_KEY is not set"}
    assert by(outcome, "rag-chat", "q1")["scores"]["recall@1"]["value"] == 1.0


def test_retrieval_metrics_do_not_apply_to_a_closed_book_candidate(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        outcome = run(make_suite(tmp_path, server, gate=False), tmp_path)
    closed = by(outcome, "closed", "q1")["scores"]["recall@1"]
    assert closed == {"skipped": "closed-book: the candidate retrieves nothing"}  # not a recall of 0
    assert by(outcome, "rag-chat", "q1")["scores"]["recall@1"] == {"value": 1.0}
    summary = {s.name: s.metrics["recall@1"] for s in outcome.summaries}
    assert (summary["closed"].n, summary["closed"].n_skipped, summary["closed"].value) == (0, 2, None)


def test_an_http_reply_of_the_wrong_shape_is_an_error_and_a_counted_failure(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        url = server.base_url.replace("/v1", "/ask")
        (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
        (tmp_path / "shape.yaml").write_text(f"""name: shape
corpus: {{path: corpus.jsonl}}
cases:
  - {{id: q1, question: 'When does water boil?', expected_sources: [d2]}}
candidates:
  - {{name: api, kind: http, url: '{url}', answer_path: data.reply}}
metrics: [recall@1]
max_error_rate: 1.0
""")
        outcome = run(tmp_path / "shape.yaml", tmp_path)
    api = by(outcome, "api", "q1")
    assert api["output"]["error"].startswith("no text at 'data.reply' in the response")
    usage = json.loads((outcome.folder / "usage.json").read_text())
    assert usage["candidate:api"]["failures"] == 1 and usage["candidate:api"]["calls"] == 1
