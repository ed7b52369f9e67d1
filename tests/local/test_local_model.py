"""End-to-end on the real local model: llama.cpp's server with Gemma 3 270M (`nox -s local`).

These start the real server through evalkit (a `local:` model), so they need the local extra;
the default test session does not collect this folder (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, foreground_cli

pytest.importorskip("xllamacpp", reason="needs the local extra: nox -s local")

SQUAD = ROOT / "suites" / "data" / "squad2"
CANDIDATES = f"""
  - name: closed-book
    kind: model
    model: local:gemma3-270m
    api: completion
    examples: {SQUAD / "examples.jsonl"}
  - name: rag-bm25
    kind: rag
    retriever: {{kind: bm25, top_k: 1}}
    generator: {{kind: chat, model: local:gemma3-270m, api: completion, examples: {SQUAD / "examples.jsonl"}}}
"""


def write_suite(folder: Path, cases: int, judge: str = "", metrics: str = "exact_match, token_f1, recall@1, "
                "abstain_rate_unanswerable, citation_precision, faithfulness") -> Path:
    suite = folder / "squad-slice.yaml"
    suite.write_text(f"name: squad-slice\ncorpus: {{path: {SQUAD / 'corpus.jsonl'}}}\n"
                     f"cases: {{path: {SQUAD / 'cases.jsonl'}, limit: {cases}}}\n"
                     f"candidates:{CANDIDATES}metrics: [{metrics}]\n{judge}max_error_rate: 1.0\n")
    return suite


def run_cli(folder: Path, cache: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(cache), "COLUMNS": "200"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(foreground_cli("run", *args, "--no-mlflow", "--reports-dir", str(folder / "reports")),
                            cwd=folder, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def servers(cache: Path) -> list[int]:
    """Pids of llama.cpp servers serving a model file from this cache."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"evalkit.models.llama_server" in command and any(str(cache).encode() in part for part in command):
            found.append(int(entry.name))
    return found


def wait_until(condition, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def samples(folder: Path) -> list[dict]:
    [path] = (folder / "reports").glob("*/*/samples.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_closed_book_and_rag_answer_every_case_with_parsed_citations(tmp_path: Path, cache: Path) -> None:
    from evalkit.core.text import parse_citations

    process = run_cli(tmp_path, cache, str(write_suite(tmp_path, cases=8)))
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    rows = samples(tmp_path)
    assert sorted((r["candidate"], r["position"]) for r in rows) == sorted(
        (c, i) for c in ("closed-book", "rag-bm25") for i in range(8))
    for row in rows:
        output = row["output"]
        assert output["error"] is None and output["answer"].strip()
        assert output["usage"]["prompt_tokens"] > 0 and output["cost_usd"] == 0.0
        assert output["prompt"].rstrip().endswith("Answer:")  # the few-shot completion prompt as sent
        assert output["citations"] == parse_citations(output["answer"])
        for score in row["scores"].values():
            assert score.get("error") is None
            assert score.get("value") is None or not math.isnan(score["value"])
    rag = [r for r in rows if r["candidate"] == "rag-bm25"]
    assert any(r["output"]["citations"] for r in rag), [r["output"]["answer"] for r in rag]
    assert all(not r["output"]["citations"] for r in rows if r["candidate"] == "closed-book")
    assert "$0 (local)" in out
    assert servers(cache) == []  # stopped with the run
    [header] = (tmp_path / "reports").glob("*/*/header.json")
    served = {c["name"]: c["served_by"] for c in json.loads(header.read_text())["candidates"]}
    assert served["rag-bm25"]["sha256"] == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert served["closed-book"]["server"] == "xllamacpp 2026.10.11549"


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_no_server_outlives_an_interrupted_or_killed_run(tmp_path: Path, cache: Path, how: signal.Signals) -> None:
    process = run_cli(tmp_path, cache, str(write_suite(tmp_path, cases=40)), "--no-cache")
    try:
        assert wait_until(lambda: servers(cache)), "the server did not start"
        assert wait_until(lambda: any(path.stat().st_size for path in (tmp_path / "reports").glob("*/*/samples.jsonl")))
        process.send_signal(how)  # with calls in flight
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == (130 if how == signal.SIGINT else -signal.SIGKILL)
    assert wait_until(lambda: not servers(cache), timeout_s=15), f"orphan server after {how.name}"
    if how == signal.SIGINT:  # what finished is kept, and the run can be resumed
        assert samples(tmp_path)
        assert "resume" in err, err


def test_a_judge_on_the_real_model_parses_or_errors_never_nan(tmp_path: Path, cache: Path) -> None:
    judge = "judge: {kind: model, model: 'local:gemma3-270m', max_tokens: 200}\n"
    process = run_cli(tmp_path, cache, str(write_suite(tmp_path, cases=3, judge=judge, metrics="faithfulness")))
    _, err = process.communicate(timeout=600)
    assert process.returncode in (0, 1), err
    for row in samples(tmp_path):
        score = row["scores"]["faithfulness"]
        assert (score.get("value") is not None) or score.get("error") or score.get("skipped"), score
        if score.get("value") is not None:
            assert 0.0 <= score["value"] <= 1.0
    assert "Traceback" not in err


def test_system_text_reaches_a_model_whose_chat_template_has_no_system_role(cache: Path) -> None:
    """Gemma's chat template has no system role. Sent as a system message (llama.cpp's gemma
    template prepends it to the first user turn) or merged into the user turn by evalkit
    (`system_role: false`), the instruction is part of the prompt the model reads (its prompt
    tokens count it): neither way loses it."""
    from evalkit.models.endpoints import CacheSettings, EndpointSpec
    from evalkit.models.llm import CallStats, chat, close_connections, make_client, resolve_endpoint
    from evalkit.models.local import stop_servers

    instruction = "Always answer in French, in one word, and never explain the answer to the user."
    question = [{"role": "user", "content": "What colour is the sky?"}]

    async def prompt_tokens(system_role: bool, messages: list[dict[str, str]]) -> int:
        spec = resolve_endpoint(EndpointSpec(model="local:gemma3-270m", max_tokens=4, system_role=system_role), cache)
        client = make_client(spec, CallStats(), CacheSettings(None))
        try:
            return (await chat(client, spec, messages))[1]["prompt_tokens"]
        finally:
            await close_connections()

    try:
        alone = asyncio.run(prompt_tokens(True, question))
        as_system = asyncio.run(prompt_tokens(True, [{"role": "system", "content": instruction}, *question]))
        merged = asyncio.run(prompt_tokens(False, [{"role": "system", "content": instruction}, *question]))
    finally:
        stop_servers()
    assert as_system >= alone + 15
    assert merged >= alone + 15  # merged, the instruction's ~17 tokens reach the model


def test_a_port_taken_before_the_server_binds_it_is_left_for_another(cache: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """evalkit picks a free port, and another process may take it before llama.cpp binds it: the
    server then exits with PORT_TAKEN and starts again on another port; when every try is taken,
    one line says so."""
    import socket

    from evalkit.core.errors import EvalkitError
    from evalkit.models import local

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        handed: list[int] = []
        free = local._free_port

        def first_taken() -> int:
            handed.append(port if not handed else free())
            return handed[-1]

        monkeypatch.setattr(local, "_free_port", first_taken)
        server = local.LocalServer("local:gemma3-270m", cache)
        try:
            assert server.start().endswith(f":{handed[1]}/v1") and handed[0] == port and len(handed) == 2
        finally:
            server.stop()
        monkeypatch.setattr(local, "_free_port", lambda: port)
        with pytest.raises(EvalkitError, match="found its port taken 3 times in a row"):
            local.LocalServer("local:gemma3-270m", cache).start()
