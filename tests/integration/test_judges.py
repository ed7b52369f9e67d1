"""Judge specs (`judge: {kind: offline | model | ragas}`), per-claim verdicts from every kind, and
endpoint limits held per spec, over real HTTP to the local fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from tests.conftest import run_suite_file
from tests.fake_openai import FakeOpenAI, faithfulness_judge

CORPUS = [{"id": "d1", "text": "Aspirin reduces fever in adults. It is cheap."},
          {"id": "d2", "text": "Water boils at 100 degrees at sea level."}]


def write_suite(tmp_path: Path, server: FakeOpenAI, judge: str, n_cases: int = 2, concurrency: int = 4,
                generator_concurrency: int = 8) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    cases = "".join(f"  - {{id: q{i}, question: 'What reduces fever? ({i})', expected_sources: [d1]}}\n"
                    for i in range(n_cases))
    path = tmp_path / "suite.yaml"
    path.write_text(f"""name: judged
corpus: {{path: corpus.jsonl}}
cases:
{cases}candidates:
  - name: rag-chat
    kind: rag
    retriever: {{kind: bm25, top_k: 1}}
    generator: {{kind: chat, model: gpt-4o-mini, base_url: '{server.base_url}', api_key_env: null,
                concurrency: {generator_concurrency}}}
metrics: [recall@1, faithfulness]
judge: {judge}
concurrency: {concurrency}
""")
    return path


def model_judge(server: FakeOpenAI, kind: str = "model", concurrency: int = 8) -> str:
    return (f"{{kind: {kind}, model: gpt-4o-mini, base_url: '{server.base_url}', api_key_env: null, "
            f"concurrency: {concurrency}}}")


def test_a_judge_and_a_candidate_on_one_endpoint_each_keep_their_own_limit(tmp_path: Path) -> None:
    """Judge at 16, candidate at 8, same URL and model: the judge reaches 16 calls in flight, the
    candidate never more than 8 (keyed by URL, both were held to whichever was built first)."""
    with FakeOpenAI(judge=faithfulness_judge, latency_s=0.02, judge_latency_s=0.4) as server:
        path = write_suite(tmp_path, server, model_judge(server, concurrency=16), n_cases=48, concurrency=64)
        finished = run_suite_file(path, tmp_path)
    assert server.max_in_flight == {"judge": 16, "answer": 8}
    assert finished.summary.candidate("rag-chat").metrics["faithfulness"].n == 48


def test_model_judge_gives_a_verdict_and_a_passage_per_claim(tmp_path: Path) -> None:
    answers = iter(["Aspirin reduces fever [d1]. Aspirin was invented on the moon [d1].", "Aspirin reduces fever."])
    with FakeOpenAI(answer_for=lambda body: next(answers), judge=faithfulness_judge) as server:
        finished = run_suite_file(write_suite(tmp_path, server, model_judge(server), concurrency=1), tmp_path)
    first = next(s for s in finished.samples if s["case_id"] == "q0")["scores"]["faithfulness"]
    assert first["value"] == 0.5
    supported, invented = first["details"]["claims"]
    assert supported["supported"] and supported["doc_id"] == "d1" and supported["evidence"].startswith("Aspirin")
    assert not invented["supported"] and invented["doc_id"] is None and invented["reason"] == "not in the passages"
    assert finished.header["judge"]["kind"] == "model"
    judge_calls = [r for r in server.requests if r["body"].get("response_format")]
    assert len(judge_calls) == 2  # one call per judged sample


@pytest.mark.parametrize(("reply", "error"), [
    ({"claims": [{"claim": "x", "supported": 7, "passage": 1}]}, "claims.0.supported: Input should be a valid boolean"),
    ({"claims": [{"claim": "x", "supported": True, "passage": 3}]}, "the judge cited passage 3, but only 1 were shown"),
    ({"verdict": "yes"}, "claims: Field required"),
])
def test_model_judge_reply_outside_its_schema_is_the_samples_error(tmp_path: Path, reply: dict, error: str) -> None:
    with FakeOpenAI(judge=lambda schema, given: json.dumps(reply)) as server:
        finished = run_suite_file(write_suite(tmp_path, server, model_judge(server)), tmp_path)
    scores = [s["scores"]["faithfulness"] for s in finished.samples]
    assert all(error in score["error"] and "value" not in score for score in scores), scores
    assert finished.summary.candidate("rag-chat").metrics["faithfulness"].n_errors == 2
    usage = json.loads((finished.folder / "usage.json").read_text())
    [judge] = [figures for owner, figures in usage.items() if owner.startswith("judge:")]
    assert judge["failures"] == 2  # counted in the usage too, not only as the samples' errors


def test_ragas_judge_keeps_each_statement_verdict_and_rejects_verdicts_outside_0_1(tmp_path: Path) -> None:
    answers = iter(["Aspirin reduces fever. Aspirin was invented on the moon.", "Aspirin reduces fever."])
    with FakeOpenAI(answer_for=lambda body: next(answers), judge=faithfulness_judge) as server:
        finished = run_suite_file(write_suite(tmp_path, server, model_judge(server, "ragas"), concurrency=1), tmp_path)
    claims = next(s for s in finished.samples if s["case_id"] == "q0")["scores"]["faithfulness"]["details"]["claims"]
    assert [(c["claim"], c["supported"], c["doc_id"]) for c in claims] == [
        ("Aspirin reduces fever.", True, "d1"), ("Aspirin was invented on the moon.", False, None)]

    def seven(schema: str, given: dict) -> str:
        reply = json.loads(faithfulness_judge(schema, given))
        if schema == "NLIStatementOutput":
            reply["statements"][0]["verdict"] = 7
        return json.dumps(reply)

    with FakeOpenAI(judge=seven) as server:
        finished = run_suite_file(write_suite(tmp_path / "b", server, model_judge(server, "ragas")), tmp_path / "b")
    assert all("verdict 7" in s["scores"]["faithfulness"]["error"] for s in finished.samples)


def test_judge_without_kind_reads_as_ragas_with_a_note_and_kind_is_checked(tmp_path: Path) -> None:
    from evalkit.config.suite import load_suite

    with FakeOpenAI() as server:
        legacy = load_suite(write_suite(tmp_path, server, f"{{model: gpt-4o-mini, base_url: '{server.base_url}'}}"))
        assert legacy.spec.judge is not None and legacy.spec.judge.kind == "ragas"
        assert legacy.notes == [f"{tmp_path / 'suite.yaml'}:13: judge: a judge without 'kind' is read as "
                                "'kind: ragas' (ragas's faithfulness, as before); this form is deprecated: write "
                                "'kind: ragas', or 'kind: model' for evalkit's one-call claim-by-claim judge"]
        assert load_suite(write_suite(tmp_path, server, "{kind: offline}")).spec.judge.kind == "offline"
        with pytest.raises(EvalkitError, match="judge"):
            load_suite(write_suite(tmp_path, server, "{kind: oracle, model: x}"))


def test_offline_judge_features_pick_the_version_recorded_beside_the_scores(tmp_path: Path) -> None:
    """`features: semantic` runs offline-v4 (static-embedding features), `span-semantic` offline-v8; the
    default is offline-v7 (lexical and span measures, a model per answer shape)."""
    with FakeOpenAI() as server:
        semantic = run_suite_file(write_suite(tmp_path / "semantic", server, "{kind: offline, features: semantic}"),
                                  tmp_path / "semantic")
        v8 = run_suite_file(write_suite(tmp_path / "v8", server, "{kind: offline, features: span-semantic}"),
                            tmp_path / "v8")
        default = run_suite_file(write_suite(tmp_path / "default", server, "{kind: offline}"), tmp_path / "default")
    assert semantic.summary.candidate("rag-chat").metrics["faithfulness"].judge == "offline-v4"
    assert v8.summary.candidate("rag-chat").metrics["faithfulness"].judge == "offline-v8"
    assert default.summary.candidate("rag-chat").metrics["faithfulness"].judge == "offline-v7"
    claims = semantic.samples[0]["scores"]["faithfulness"]["details"]["claims"]
    assert claims and all("support" in c for c in claims)
