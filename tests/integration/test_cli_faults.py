"""The CLI under faults a user meets: signals, a folder it cannot write, a full disk, an echoed
secret, a run killed halfway. Each ends in one clear line and keeps every finished sample."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import foreground_cli
from tests.fake_openai import FakeOpenAI

SUITE = """name: faults
cases:
{cases}candidates:
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: {key_env},
      concurrency: 2, max_retries: 0}}
metrics: [token_f1]
max_error_rate: {max_error_rate}
concurrency: 2
"""


def write_suite(folder: Path, url: str, n_cases: int = 30, key_env: str = "null", max_error_rate: float = 0.0) -> Path:
    cases = "".join(f"  - {{id: q{i}, question: 'Question {i}?', expected_answer: 'I answer from memory.'}}\n"
                    for i in range(n_cases))
    path = folder / "suite.yaml"
    path.write_text(SUITE.format(cases=cases, url=url, key_env=key_env, max_error_rate=max_error_rate))
    return path


def start(folder: Path, *args: str, command: list[str] | None = None, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(folder / "cache"), "COLUMNS": "200"}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = [*command, *args] if command is not None else foreground_cli(*args)
    return subprocess.Popen(argv, cwd=folder, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]


def run_folder(folder: Path) -> Path:
    (run,) = (folder / "reports" / "faults").iterdir()
    return run


def wait_for_samples(folder: Path, at_least: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        runs = list((folder / "reports" / "faults").glob("*/samples.jsonl"))
        if runs and len(runs[0].read_text().splitlines()) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("the run did not get going")


@pytest.mark.parametrize(("sent", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_a_signal_stops_the_run_and_keeps_what_finished(tmp_path: Path, sent: int, code: int, name: str) -> None:
    with FakeOpenAI(latency_s=0.3) as server:
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url)), "--no-mlflow")
        wait_for_samples(tmp_path, 4, process)
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    run = run_folder(tmp_path)
    kept = len((run / "samples.jsonl").read_text().splitlines())
    assert 4 <= kept < 30
    assert stderr.strip().splitlines()[-1] == (f"interrupted ({name}): {kept} of 30 samples finished and are kept in "
                                               f"reports/faults/{run.name}/ (its summary.json says the run is "
                                               "incomplete; continue it with --resume)")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["n_samples"] == kept
    assert summary["n_missing_samples"] == 30 - kept
    assert json.loads((run / "usage.json").read_text())["candidate:closed"]["calls"] >= kept


def test_sigterm_stops_a_run_started_in_the_background(tmp_path: Path) -> None:
    """A shell's background job (`evalkit run ... &` in a script, a CI step) inherits SIGINT ignored;
    SIGTERM must still stop the run and keep what finished."""
    ignored = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); sys.argv[0] = 'evalkit'; "
               "runpy.run_module('evalkit', run_name='__main__', alter_sys=True)")
    with FakeOpenAI(latency_s=0.3) as server:
        suite = str(write_suite(tmp_path, server.base_url))
        process = start(tmp_path, "run", suite, "--no-mlflow", command=[sys.executable, "-c", ignored])
        wait_for_samples(tmp_path, 4, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted (SIGTERM): ")
    assert json.loads((run_folder(tmp_path) / "summary.json").read_text())["status"] == "interrupted"


def test_report_on_a_killed_run_says_what_is_missing(tmp_path: Path) -> None:
    with FakeOpenAI(latency_s=0.2) as server:
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url, n_cases=20)), "--no-mlflow")
        wait_for_samples(tmp_path, 3, process)
        process.kill()  # kill -9: no summary, no usage
        process.communicate(timeout=30)
    run = run_folder(tmp_path)
    assert not (run / "summary.json").exists()
    kept = len((run / "samples.jsonl").read_text().splitlines())
    result = subprocess.run([sys.executable, "-m", "evalkit", "report", str(run)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"incomplete: {20 - kept} of 20 samples are missing" in result.stdout
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"


def test_an_unwritable_reports_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "reports-file").write_text("a file, not a folder")
    with FakeOpenAI() as server:
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url, n_cases=2)), "--no-mlflow",
                        "--reports-dir", "reports-file/reports")
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert stderr.strip().splitlines()[-1].startswith("error: reports-file/reports/faults/")
    assert "cannot write the run folder (Not a directory) (hint: choose a writable folder with --reports-dir)" in stderr
    assert "Traceback" not in stderr


def _small_files(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_stops_cleanly_and_keeps_every_complete_sample(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url, n_cases=60)), "--no-mlflow",
                        preexec_fn=lambda: _small_files(12_000))
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "Traceback" not in stderr
    run = run_folder(tmp_path)
    lines = (run / "samples.jsonl").read_text().splitlines()
    assert 0 < len(lines) < 60 and all(json.loads(line)["case_id"] for line in lines)  # whole lines only
    assert stderr.strip().splitlines()[-1] == (f"stopped: cannot write samples.jsonl (File too large): {len(lines)} "
                                               f"of 60 samples finished and are kept in reports/faults/{run.name}/ "
                                               "(its summary.json says the run is incomplete; continue it with --resume)")


def test_a_secret_echoed_by_an_endpoint_is_never_stored_or_shown(tmp_path: Path, key: str) -> None:
    with FakeOpenAI() as server:
        server.faults = ["401-echo", "401-echo"]
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url, n_cases=3, key_env="EVALKIT_TEST_KEY",
                                                         max_error_rate=1.0)), "--no-mlflow")
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    run = run_folder(tmp_path)
    samples = (run / "samples.jsonl").read_text()
    assert "HTTP 401" in samples and "[redacted]" in samples
    for text in (samples, (run / "report.html").read_text(), (run / "summary.json").read_text(), stdout, stderr):
        assert key not in text and "sk-test" not in text


def test_the_console_says_why_samples_errored(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        server.faults = ["500", "500", "500", "garbage"]
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url, n_cases=6)), "--no-mlflow",
                        "--concurrency", "1")
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "4 of 6 samples errored (66.7%; limit 0.0%)" in stdout
    assert "3 × ModelCallError: HTTP 500 from gpt-4o-mini: boom (e.g. closed q0)" in stdout
    assert "1 × ModelCallError: malformed response from gpt-4o-mini" in stdout
    # in a log (no terminal) progress is a line every 10 s and at the end of each candidate
    (last,) = [line for line in stderr.splitlines() if line.startswith("closed: 6/6 (100%)")]
    assert last.endswith("done, 4 errors, $0.0001")


def test_paths_are_never_wrapped_in_a_ci_log(tmp_path: Path) -> None:
    deep = tmp_path / ("a-long-folder-name-" * 6) / "reports"
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("COLUMNS", None)
    with FakeOpenAI() as server:
        result = subprocess.run([sys.executable, "-m", "evalkit", "run", str(write_suite(tmp_path, server.base_url, 2)),
                                 "--no-mlflow", "--reports-dir", str(deep)], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    (run,) = (deep / "faults").iterdir()
    assert f"report: {run / 'report.html'}" in result.stdout.splitlines()


def _everything_written(folder: Path) -> str:
    """Every file under folder as text: the report's gzip data decoded, parquet tables read, the
    MLflow sqlite store's bytes as they are."""
    import base64
    import gzip
    import re

    texts = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".parquet":
            import pandas as pd

            texts.append(pd.read_parquet(path).to_json())
            continue
        text = data.decode("utf-8", errors="replace")
        texts.append(text)
        for blob in re.findall(r'id="data">([A-Za-z0-9+/=\s]+)</script>', text):  # the report's embedded data
            texts.append(gzip.decompress(base64.b64decode("".join(blob.split()))).decode("utf-8", errors="replace"))
    return "\n".join(texts)


def test_no_piece_of_a_planted_key_is_written_anywhere(tmp_path: Path, key: str) -> None:
    """A key an endpoint echoes, in an error body cut short inside the key, in an answer and its
    citation marks, and in a model judge's claims, appears in no file evalkit writes (samples,
    report, MLflow store and artifacts, traces, response cache, stage cache, export) and not on
    the console: not whole, and not in any 12-character piece."""
    from tests.fake_openai import faithfulness_judge

    echoed = f"The key is {key} [{key}]."
    endpoint = "model: gpt-4o-mini, base_url: '{url}', api_key_env: EVALKIT_TEST_KEY, max_retries: 0"
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"id": "d1", "text": "Keys are secret. Never echo them."}) + "\n")
    with FakeOpenAI(answer_for=lambda body: echoed, judge=faithfulness_judge) as server:
        server.faults = ["401-echo-long", "401-echo-long"]
        suite = tmp_path / "suite.yaml"
        suite.write_text("""name: faults
corpus: {path: corpus.jsonl}
cases:
""" + "".join(f"  - {{id: q{i}, question: 'Question {i}?', expected_answer: 'x', expected_sources: [d1]}}\n"
              for i in range(4)) + f"""candidates:
  - name: rag
    kind: rag
    retriever: {{kind: bm25, top_k: 1}}
    generator: {{kind: chat, {endpoint.format(url=server.base_url)}, concurrency: 1}}
metrics: [token_f1, citation_recall, faithfulness]
judge: {{kind: model, {endpoint.format(url=server.base_url)}}}
max_error_rate: 1.0
""")
        process = start(tmp_path, "run", str(suite), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}")
        stdout, stderr = process.communicate(timeout=300)
        exported = start(tmp_path, "export", str(run_folder(tmp_path)), "--output", str(tmp_path / "export.parquet"))
        export_out, export_err = exported.communicate(timeout=120)
    assert process.returncode in (0, 1), stderr
    run = run_folder(tmp_path)
    samples = (run / "samples.jsonl").read_text()
    assert "HTTP 401" in samples and "[redacted]" in samples
    assert "mlflow: run" in stdout and (tmp_path / "export.parquet").is_file(), stdout + export_err
    written = _everything_written(tmp_path) + stdout + stderr + export_out + export_err
    assert key not in written
    pieces = [key[i:i + 12] for i in range(len(key) - 11)]
    assert not [piece for piece in pieces if piece in written]


def test_a_disk_that_fills_after_the_samples_stops_with_one_line_and_keeps_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sample is written, then summary.json cannot be (the disk filled up): the run stops with
    a reason that says no summary was written and where the samples are, and --resume finishes it."""
    import asyncio
    import errno

    from evalkit.config.suite import load_suite
    from evalkit.core.errors import RunStopped
    from evalkit.runner import pipeline

    def full(folder: Path, summary: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with FakeOpenAI() as server:
        suite = load_suite(write_suite(tmp_path, server.base_url, n_cases=3))
        options = pipeline.RunOptions(reports_dir=tmp_path / "reports", cache_dir=tmp_path / "cache")
        with monkeypatch.context() as patched:
            patched.setattr(pipeline, "write_summary", full)
            with pytest.raises(RunStopped) as stopped:
                asyncio.run(pipeline.run_suite(suite, options))
        run = run_folder(tmp_path)
        assert len((run / "samples.jsonl").read_text().splitlines()) == 3 and not (run / "summary.json").exists()
        assert str(stopped.value) == (f"cannot write the run's usage, passages or summary (No space left on device): "
                                      f"3 of 3 samples finished and are kept in {run}/ (no summary.json was written; "
                                      "continue it with --resume)")
        resumed = start(tmp_path, "run", str(suite.path), "--no-mlflow", "--resume", str(run))
        _, resumed_err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, resumed_err
    assert (run / "summary.json").is_file()


def test_a_reply_past_the_size_cap_is_that_samples_error_not_retried(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_MAX_REPLY_BYTES", "20000")
    with FakeOpenAI(answer_for=lambda body: "x" * 50_000) as server:
        process = start(tmp_path, "run", str(write_suite(tmp_path, server.base_url, n_cases=2, max_error_rate=1.0)),
                        "--no-mlflow")
        stdout, stderr = process.communicate(timeout=120)
        calls = len(server.requests)
    assert process.returncode == 0, stderr
    assert "2 × ModelCallError: the reply is larger than 20,000 bytes (EVALKIT_MAX_REPLY_BYTES)" in stdout
    assert calls == 2  # one call a sample: the same request would get the same reply
    run = run_folder(tmp_path)
    assert "x" * 1000 not in (run / "samples.jsonl").read_text()
    usage = json.loads((run / "usage.json").read_text())
    assert usage["candidate:closed"]["failures"] == 2


def test_a_second_writer_of_a_run_folder_is_refused_with_one_line(tmp_path: Path) -> None:
    """Two `--resume` of one run used to run (and pay for) the same samples twice: the folder is
    locked while a run writes it."""
    with FakeOpenAI(latency_s=0.2) as server:
        suite = write_suite(tmp_path, server.base_url, n_cases=30)
        first = start(tmp_path, "run", str(suite), "--no-mlflow")
        try:
            wait_for_samples(tmp_path, 2, first)
            second = start(tmp_path, "run", str(suite), "--no-mlflow", "--resume", str(run_folder(tmp_path)))
            _, stderr = second.communicate(timeout=60)
        finally:
            first.communicate(timeout=120)
    assert second.returncode == 2, stderr
    assert stderr.strip().splitlines()[-1] == (f"error: {run_folder(tmp_path)}: another evalkit is writing this run "
                                               "folder (hint: wait for it to finish; if it stopped, run --resume again "
                                               "then)")
    assert first.returncode == 0
    assert len((run_folder(tmp_path) / "samples.jsonl").read_text().splitlines()) == 30


def test_sigterm_outside_a_run_does_not_speak_of_a_run_folder(tmp_path: Path) -> None:
    """SIGTERM while `validate` reads a large suite: it says it was interrupted, and not that work
    is kept in a run folder (there is none)."""
    suite = tmp_path / "large.yaml"
    suite.write_text("name: large\ncandidates: []\nmetrics: [recall@1]\ncases:\n"
                     + "".join(f"  - {{id: q{i}, question: 'Q {i}?'}}\n" for i in range(100_000)))  # 3.9 MB
    process = start(tmp_path, "validate", str(suite))
    time.sleep(1.5)  # the CLI is up and parsing
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    if process.returncode in (0, 2):  # finished before the signal: nothing to check on this machine
        pytest.skip(f"validate finished before the signal (exit {process.returncode})")
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted (SIGTERM)"
    assert "run folder" not in stderr
