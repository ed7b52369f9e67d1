"""The Ray executor on a real local Ray cluster (`ray start --head` on loopback with 2 worker CPUs,
joined with --ray-address): the same samples and summary as the local executor, the candidate's
concurrency held across workers, and a worker killed mid-run costing nothing."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import evalkit, free_port, write_jsonl
from tests.fake_openai import FakeOpenAI

pytest.importorskip("ray", reason="needs the ray extra: nox -s ray")

SUITE = """name: scale
corpus: {{path: corpus.jsonl}}
cases: {{path: cases.jsonl}}
candidates:
  - {{name: bm25, kind: rag, retriever: {{kind: bm25, top_k: 5}}}}
  - {{name: closed, kind: model, model: gpt-4o-mini, base_url: '{url}', api_key_env: null, concurrency: 2}}
  - name: rag
    kind: rag
    retriever: {{kind: hybrid, top_k: 3}}
    generator: {{kind: chat, model: gpt-4o-mini, base_url: '{url}', api_key_env: null, concurrency: 2}}
metrics: [recall@5, mrr, faithfulness, citation_precision]
concurrency: 4
"""



@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray is not None
    port = free_port()
    temp = Path("/tmp") / f"evalkit-ray-{os.getpid()}"  # short: Ray's socket paths must fit in 107 bytes
    # token authentication, with this cluster's own token: `ray start` turns it on by itself when the
    # machine has a token (~/.ray/auth_token), and a client that joins by address must then send one
    with pytest.MonkeyPatch.context() as patch:  # for the evalkit processes the tests start; put back after
        patch.setenv("RAY_AUTH_MODE", "token")
        patch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        started = subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                                  "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
                                  "--temp-dir", str(temp)], capture_output=True, text=True, env=env, timeout=180,
                                 check=False)
        assert started.returncode == 0, started.stdout + started.stderr
        try:
            yield f"127.0.0.1:{port}"
        finally:
            subprocess.run([ray, "stop", "--force"], capture_output=True, env=env, timeout=120, check=False)
            shutil.rmtree(temp, ignore_errors=True)


def _work(root: Path, name: str, url: str, scifact_slice) -> Path:
    folder = root / name
    folder.mkdir()
    cases, documents = scifact_slice
    write_jsonl(folder / "corpus.jsonl", documents)
    write_jsonl(folder / "cases.jsonl", cases)
    (folder / "scale.yaml").write_text(SUITE.format(url=url))
    return folder


def _samples(folder: Path) -> dict[tuple[str, str], dict]:
    (run,) = (folder / "reports" / "scale").iterdir()
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    keys = [(r["candidate"], r["case_id"]) for r in rows]
    assert len(keys) == len(set(keys))  # nothing stored twice
    return {(r["candidate"], r["case_id"]): r for r in rows}


def _values(sample: dict) -> tuple:
    output = sample["output"]
    return (output["answer"], [p["doc_id"] for p in output["passages"]], output["citations"], output.get("error"),
            {name: (score.get("value"), score.get("error")) for name, score in sample["scores"].items()})


def test_ray_gives_the_local_executors_results_within_the_endpoints_concurrency(
        cluster: str, tmp_path: Path, scifact_slice) -> None:
    with FakeOpenAI(latency_s=0.1) as server:
        local = _work(tmp_path, "local", server.base_url, scifact_slice)
        assert evalkit("run", "scale.yaml", "--no-mlflow", cwd=local).returncode == 0
        server.max_in_flight["answer"] = 0
        distributed = _work(tmp_path, "ray", server.base_url, scifact_slice)
        result = evalkit("run", "scale.yaml", "--no-mlflow", "--executor", "ray", "--ray-address", cluster,
                         cwd=distributed)
        assert result.returncode == 0, result.stdout + result.stderr
        # 2 workers with 4 samples in flight each; the endpoints allow 2 calls at once, cluster-wide
        assert server.max_in_flight["answer"] == 2
    ours, theirs = _samples(local), _samples(distributed)
    assert len(ours) == 36 and ours.keys() == theirs.keys()
    assert all(_values(ours[key]) == _values(theirs[key]) for key in ours)

    def summary(folder: Path) -> dict:
        (run,) = (folder / "reports" / "scale").iterdir()
        data = json.loads((run / "summary.json").read_text())
        return {c["name"]: {m: (v["value"], v["ci_low"], v["ci_high"], v["n"]) for m, v in c["metrics"].items()
                            if not m.startswith("latency")} | {"calls": (c.get("usage") or {}).get("calls")}
                for c in data["candidates"]}

    assert summary(local) == summary(distributed)  # usage counted on the workers adds up here too


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster: str, tmp_path: Path, scifact_slice) -> None:
    with FakeOpenAI(latency_s=0.4) as server:
        folder = _work(tmp_path, "killed", server.base_url, scifact_slice)
        env = {**os.environ, "EVALKIT_CACHE_DIR": str(folder / "cache"), "COLUMNS": "200"}
        process = subprocess.Popen([sys.executable, "-m", "evalkit", "run", "scale.yaml", "--no-mlflow",
                                    "--executor", "ray", "--ray-address", cluster], cwd=folder, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and process.poll() is None:
            listed = subprocess.run(["pgrep", "-f", "ray::_answer_batch"], capture_output=True, text=True, check=False)
            pids = [int(pid) for pid in listed.stdout.split()]
            if pids and server.requests:  # a worker in the middle of a batch of model calls
                victim = pids[0]
            time.sleep(0.1)
        assert victim is not None, "no worker was seen answering"
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout + stderr
    assert len(_samples(folder)) == 36  # every sample, once
