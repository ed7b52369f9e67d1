"""A run folder with a corrupt or missing file: every command that reads it ends with exit 2 and
one line naming the file (and line) and how to go on, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import evalkit

DAMAGE = {  # file: (bytes written, or None to delete it; what the message says)
    "header.json": [(b"{", "header.json:1: not valid JSON"), (b"\xff", "header.json: not UTF-8 text"),
                    (b'{"schema": "evalkit.run/2"}', "header.json: not a complete run manifest (run_id: field required")],
    "samples.jsonl": [(None, "no samples.jsonl"), (b"\xff\n", "samples.jsonl:1: not a sample record")],
    "summary.json": [(b"{", "summary.json:1: not valid JSON")],
    "usage.json": [(b"nope", "usage.json:1: not valid JSON")],
    "passages.jsonl.gz": [(b"not gzip", "passages.jsonl.gz: not a passages file")],
}
CASES = [(name, content, said) for name, damages in DAMAGE.items() for content, said in damages]


@pytest.fixture(scope="module")
def saved(finished_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    work, result = finished_run
    assert result.returncode == 0, result.stderr
    [folder] = (work / "reports" / "mini").iterdir()
    return folder


@pytest.mark.parametrize(("name", "content", "said"), CASES)
def test_each_command_says_which_file_is_broken(saved: Path, tmp_path: Path, name: str, content: bytes | None,
                                                said: str) -> None:
    folder = tmp_path / "reports" / "mini" / saved.name
    shutil.copytree(saved, folder)
    shutil.copy(saved.parents[2] / "mini.yaml", tmp_path / "mini.yaml")
    for other in ("corpus.jsonl", "cases.jsonl"):
        shutil.copy(saved.parents[2] / other, tmp_path / other)
    if content is None:
        (folder / name).unlink()
    else:
        (folder / name).write_bytes(content)
    commands = [("report", str(folder), "--no-mlflow"), ("compare", str(folder), str(folder)),
                ("rescore", str(folder), "--no-mlflow"), ("export", str(folder)),
                ("run", "mini.yaml", "--resume", str(folder), "--no-mlflow")]
    if name == "usage.json":  # read when a resumed run's usage is added up
        commands = [commands[4]]
    if name == "passages.jsonl.gz":  # read by what shows or judges texts; compare, export and resume need none
        commands = [commands[0], commands[2]]
    for command in commands:
        result = evalkit(*command, cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and lines[-1].startswith("error: "), (command, result.stderr)
        assert said in lines[-1] and "hint:" in lines[-1], (command, lines[-1])


def _no_writes() -> None:
    """The child cannot write a byte to any file (as on a read-only or full disk, also for root)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails (EFBIG) instead of killing the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_report_where_nothing_can_be_written_keeps_the_exit_code(saved: Path, tmp_path: Path) -> None:
    import os
    import sys

    folder = tmp_path / "reports" / "mini" / saved.name
    shutil.copytree(saved, folder)
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "250"}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run([sys.executable, "-m", "evalkit", "report", str(folder), "--no-mlflow"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300, check=False, preexec_fn=_no_writes)
    assert result.returncode == 0, result.stderr  # the gates pass, as when the run finished
    assert "Traceback" not in result.stderr and "summary.json not written" in result.stderr, result.stderr
    assert "not published" in result.stderr and "recall@5" in result.stdout
    assert not list(folder.glob(".*.tmp"))
