"""Endpoint faults that used to lose work or time: each becomes a clear per-sample error or a
warning, against the local fake server over real HTTP."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.integration.test_llm import by, make_suite, run

SUITE_DOWN = """name: down
cases:
{cases}candidates:
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: 'http://127.0.0.1:{port}/v1', api_key_env: null,
      max_retries: 1}}
metrics: [token_f1]
max_error_rate: 1.0
concurrency: 1
"""


def usage(outcome, owner: str = "candidate:closed") -> dict:
    return json.loads((outcome.folder / "usage.json").read_text())[owner]


def test_retry_after_longer_than_evalkit_waits_is_the_samples_error(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        server.faults = ["429-hour"]
        outcome = run(make_suite(tmp_path, server), tmp_path, concurrency=1)
    error = by(outcome, "closed", "q1")["output"]["error"]
    assert error == ("ModelCallError: HTTP 429: the server asked to retry after 3600 s, longer than evalkit "
                     "waits (30 s)")
    assert by(outcome, "closed", "q2")["output"]["error"] is None


def test_a_trickling_reply_times_out_as_a_whole(tmp_path: Path, key: str) -> None:
    """10 bytes every 0.1 s: every read is quick, the call is not. timeout_s bounds the call."""
    with FakeOpenAI() as server:
        server.faults = ["trickle"] * 3
        outcome = run(make_suite(tmp_path, server), tmp_path, concurrency=1)
    assert by(outcome, "closed", "q1")["output"]["error"] == "ModelCallError: timed out after 0.5 s (2 retries)"
    assert usage(outcome)["calls"] == 4 and usage(outcome)["failures"] == 1  # 3 tries for q1, 1 for q2


def test_a_reply_cut_off_midway_is_not_called_unreachable(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        server.faults = ["reset"] * 3
        outcome = run(make_suite(tmp_path, server), tmp_path, concurrency=1)
    error = by(outcome, "closed", "q1")["output"]["error"]
    assert error.startswith(f"ModelCallError: the connection to {server.base_url} broke during the reply"), error


def test_a_down_endpoint_is_given_up_after_five_calls_in_a_row(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cases = "".join(f"  - {{id: q{i}, question: 'Question {i}?', expected_answer: x}}\n" for i in range(12))
    (tmp_path / "suite.yaml").write_text(SUITE_DOWN.format(cases=cases, port=port))
    outcome = run(tmp_path / "suite.yaml", tmp_path)
    errors = [s["output"]["error"] for s in outcome.samples]
    assert all(e.startswith(f"ModelCallError: cannot reach http://127.0.0.1:{port}/v1") for e in errors[:5]), errors
    assert all(e.startswith(f"ModelCallError: not tried: the last 5 calls to http://127.0.0.1:{port}/v1 could "
                            "not connect") for e in errors[5:]), errors
    assert usage(outcome)["calls"] == 10  # 5 cases x (1 call + 1 retry); the other 7 cases made none
    assert usage(outcome)["failures"] == 12


def test_a_malformed_reply_counts_as_a_failure(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        server.faults = ["garbage"]
        outcome = run(make_suite(tmp_path, server), tmp_path, concurrency=1)
    assert usage(outcome)["failures"] == 1 and usage(outcome)["calls"] == 2


def test_a_corrupt_cache_entry_is_a_miss_called_again(tmp_path: Path, key: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAI() as server:
        path = make_suite(tmp_path, server)
        run(path, tmp_path)
        entries = sorted((tmp_path / "cache" / "llm").rglob("*.json"))
        entries[0].write_text(entries[0].read_text()[:25])  # a torn write
        for stage in (tmp_path / "cache").glob("stages.sqlite*"):  # so the outputs are asked for again
            stage.unlink()
        before = len(server.requests)
        with caplog.at_level(logging.WARNING, logger="evalkit"):
            again = run(path, tmp_path)
    assert len(server.requests) - before == 1  # only the corrupt entry is called again
    assert all(not s["output"]["error"] for s in again.samples)
    assert "dropped a corrupt model-response cache entry" in caplog.text
    assert json.loads(entries[0].read_text())["choices"]  # and written back whole


def test_an_unwritable_cache_loses_no_response(tmp_path: Path, key: str, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the cache folder would go")
    with FakeOpenAI() as server, caplog.at_level(logging.WARNING, logger="evalkit"):
        outcome = run(make_suite(tmp_path, server), tmp_path, cache_dir=tmp_path / "not-a-folder" / "cache")
    assert all(not s["output"]["error"] for s in outcome.samples)  # the server answered; nothing is lost
    assert len(server.requests) == 4
    assert caplog.text.count("cannot write") == 1


def test_a_cache_write_that_fails_midway_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from evalkit.models.llm import ResponseCache

    (tmp_path / "file").write_text("")
    cache = ResponseCache(tmp_path / "file" / "llm")
    with caplog.at_level(logging.WARNING, logger="evalkit"):
        cache.put("ab12", {"choices": []})
        cache.put("cd34", {"choices": []})
    assert caplog.text.count("cannot write the model-response cache") == 1
    assert cache.get("ab12") is None
