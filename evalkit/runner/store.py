"""The run folder: written as the run goes by one writer, read back by every later command.

`header.json` is the run manifest, `samples.jsonl` gets one Sample a line, appended and flushed as
each completes (an interrupted run keeps its finished work). `passages.jsonl.gz` (the texts of the
corpus passages the samples name, by node id) and `summary.json` are written when the run ends;
the summary can be rewritten from the others. Folders written by evalkit 0.2 (`evalkit.run/2`, no
passages file: their texts are read back from the suite's corpus) and 0.1 (`evalkit.run/1`) read
back into the same types.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from evalkit.core.cache import write_json_atomic
from evalkit.core.errors import EvalkitError
from evalkit.core.records import Sample
from evalkit.core.run import (
    SCHEMA,
    SCHEMA_V1,
    SCHEMA_V2,
    CandidateInfo,
    JudgeInfo,
    Run,
    RunManifest,
    SuiteInfo,
    Summary,
)
from evalkit.core.specs import MetricSpec

HEADER, SAMPLES, SUMMARY, USAGE, NOISE = "header.json", "samples.jsonl", "summary.json", "usage.json", "noise.json"
PASSAGES = "passages.jsonl.gz"


class StoreFull(Exception):
    """A sample could not be written (disk full, quota): the run must stop; what was written is whole."""


class SampleStore:
    """Creates (or, to resume, reopens) the run folder and appends samples as they complete; the
    run's one writer.

    A sample line is written whole or not at all: when a write fails (disk full), the file is cut
    back to the last complete line and StoreFull says why. Lines are fsynced in batches, so a
    `kill -9` or a power cut loses at most the last second of samples, never what came before."""

    SYNC_EVERY_S = 1.0

    def __init__(self, folder: Path, manifest: RunManifest, resume: bool = False):
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=resume)
            self._lock = _lock_folder(folder)
            write_json_atomic(folder / HEADER, manifest.model_dump(mode="json", by_alias=True), indent=2)
            # unbuffered: a line that cannot be written fails here, whole, not at a later flush
            self._samples: IO[bytes] = open(folder / SAMPLES, "ab", buffering=0)  # noqa: SIM115
        except OSError as exc:
            raise EvalkitError(f"cannot write the run folder ({exc.strerror or exc})", where=str(folder),
                               hint="choose a writable folder with --reports-dir") from None
        self._good = _whole_lines(folder / SAMPLES)  # bytes of complete lines (a torn last one is cut)
        self._cut_back()
        self._synced = time.monotonic()

    def add(self, sample: Sample) -> None:
        line = memoryview((sample.to_json() + "\n").encode("utf-8"))
        try:
            while line:  # a write may be short (a file size limit): the rest then fails with the reason
                written = self._samples.write(line)
                if not written:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                line = line[written:]
        except OSError as exc:
            self._cut_back()
            raise StoreFull(f"cannot write {SAMPLES} ({exc.strerror or exc})") from None
        self._good = self._samples.tell()
        if time.monotonic() - self._synced >= self.SYNC_EVERY_S:
            self._sync()

    def _sync(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self._samples.fileno())
        self._synced = time.monotonic()

    def _cut_back(self) -> None:
        with contextlib.suppress(OSError):  # if even this fails, a torn last line is dropped on reading
            self._samples.truncate(self._good)

    def close(self) -> None:
        self._sync()
        self._samples.close()
        self._lock.close()  # releases the folder's lock


def _lock_folder(folder: Path) -> IO[str]:
    """The run folder's lock, held while its one writer runs: a second `--resume` of the same run would
    run (and pay for) the same samples again. Refused with one line; the lock goes with the process."""
    import fcntl

    handle = open(folder / ".lock", "a")  # noqa: SIM115 - held until close()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise EvalkitError("another evalkit is writing this run folder", where=str(folder),
                           hint="wait for it to finish; if it stopped, run --resume again then") from None
    return handle


def _whole_lines(path: Path) -> int:
    """The length of `path` up to the end of its last complete line."""
    if not path.is_file():
        return 0
    data = path.read_bytes()
    return data.rfind(b"\n") + 1


def write_summary(folder: Path, summary: Summary) -> None:
    write_json_atomic(folder / SUMMARY, summary.model_dump(mode="json", by_alias=True), indent=2)


def write_usage(folder: Path, usage: dict[str, Any]) -> None:
    write_json_atomic(folder / USAGE, usage, indent=2)


def add_usage(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """A resumed run's usage: counts, tokens and cost of both sessions added up; latency percentiles
    are the latest session's (percentiles do not add)."""
    merged = {owner: dict(figures) for owner, figures in before.items()}
    for owner, figures in now.items():
        into = merged.setdefault(owner, {})
        for key, value in figures.items():
            summable = key in ("calls", "cache_hits", "retries", "failures", "prompt_tokens", "completion_tokens")
            if key == "cost_usd":
                old = into.get(key, 0.0)
                into[key] = None if value is None or (old is None and key in into) else round((old or 0.0) + value, 6)
            else:
                into[key] = into.get(key, 0) + value if summable else value
    return merged


def read_usage(folder: Path) -> dict[str, Any]:
    path = folder / USAGE
    if not path.is_file():
        return {}
    usage = _read_json(path, "delete it: the model-call usage of the earlier session is then not counted")
    if not isinstance(usage, dict):
        raise EvalkitError("not a usage record (a JSON object)", where=str(path),
                           hint="delete it: the model-call usage of the earlier session is then not counted")
    return usage


def _read_json(path: Path, hint: str) -> Any:
    """A run folder's JSON file, or one line that says what is wrong with it and how to go on."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise EvalkitError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at {exc.start})", where=str(path),
                           hint=hint) from None
    except json.JSONDecodeError as exc:
        raise EvalkitError(f"not valid JSON ({exc.msg})", where=f"{path}:{exc.lineno}", hint=hint) from None
    except OSError as exc:
        raise EvalkitError(f"cannot read it ({exc.strerror or exc})", where=str(path), hint=hint) from None


def write_passages(folder: Path, texts: dict[str, str]) -> None:
    """The passage texts the samples name, one JSON line each, gzipped (SciFact's 3,557 abstracts:
    1.6 MB), written whole or not at all."""
    import gzip

    lines = "".join(json.dumps({"node_id": node, "text": text}, ensure_ascii=False) + "\n"
                    for node, text in texts.items())
    temporary = folder / f".{PASSAGES}.tmp"
    temporary.write_bytes(gzip.compress(lines.encode("utf-8"), compresslevel=1, mtime=0))
    os.replace(temporary, folder / PASSAGES)


def read_passages(folder: Path) -> dict[str, str] | None:
    """The run's passage texts by node id; None when the folder has none (evalkit.run/2, or a run
    killed before it ended: the texts are then read back from the suite's corpus)."""
    import gzip
    import zlib

    path = folder / PASSAGES
    if not path.is_file():
        return None
    hint = "delete it: the passage texts are then read back from the suite's corpus, if it is unchanged"
    try:
        rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        return {str(row["node_id"]): str(row["text"]) for row in rows}
    except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as exc:
        raise EvalkitError(f"not a passages file ({type(exc).__name__})", where=str(path), hint=hint) from None


def write_noise(folder: Path, noise: dict[str, Any], runs: list[str]) -> None:
    (folder / NOISE).write_text(json.dumps({"runs": runs, "noise": noise}, indent=2), encoding="utf-8")


def read_noise(folder: Path) -> dict[str, Any] | None:
    path = folder / NOISE
    return json.loads(path.read_text(encoding="utf-8"))["noise"] if path.is_file() else None


def read_run(folder: Path, *, passages: bool = True) -> Run:
    """The run in `folder`. `passages=False` leaves the passages' texts unread (`Run.passages` None):
    for readers of scores only (baselines, comparisons, resuming), a SciFact run's 3,557 texts are a
    third of its reading time."""
    header_path = folder / HEADER
    if not header_path.is_file():
        raise EvalkitError(f"not a run folder (no {HEADER})", where=str(folder),
                           hint="pass a folder like reports/<suite>/<run-id>")
    lost = "the run cannot be read without its manifest: run the suite again"
    header = _read_json(header_path, lost)
    schema = header.get("schema") if isinstance(header, dict) else None
    try:
        if schema in (SCHEMA, SCHEMA_V2):
            manifest = RunManifest.model_validate(header)
        elif schema == SCHEMA_V1:
            manifest = manifest_from_v1(header)
        else:
            raise EvalkitError(f"unsupported results schema {schema!r}", where=str(header_path),
                               hint=f"this evalkit reads {SCHEMA}, {SCHEMA_V2} and {SCHEMA_V1}")
    except (ValidationError, KeyError, TypeError) as exc:
        raise EvalkitError(f"not a complete run manifest ({_first_problem(exc)})", where=str(header_path),
                           hint=lost) from None
    samples = _read_samples(folder / SAMPLES)
    summary_path = folder / SUMMARY
    summary = None
    if summary_path.is_file():
        rewrite = f"delete it: evalkit report {folder} writes it again from {HEADER} and {SAMPLES}"
        data = _read_json(summary_path, rewrite)
        try:
            readable = isinstance(data, dict) and data.get("schema") in (SCHEMA, SCHEMA_V2)
            summary = Summary.model_validate(data) if readable else None
        except ValidationError as exc:
            raise EvalkitError(f"not a run summary ({_first_problem(exc)})", where=str(summary_path),
                               hint=rewrite) from None
    return Run(folder=folder, manifest=manifest, samples=samples, summary=summary,
               passages=read_passages(folder) if passages else None)


def _read_samples(path: Path) -> list[Sample]:
    """The samples, by key: a sample re-run (--retry-errors) replaces the one before. A run killed
    mid-write leaves a torn last line (no newline), which is dropped; a bad whole line is an error
    that says which line and how to go on."""
    if not path.is_file():
        raise EvalkitError(f"no {SAMPLES}", where=str(path.parent),
                           hint="a run folder holds the samples it finished; run the suite again")
    samples: dict[str | int, Sample] = {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvalkitError(f"cannot read it ({exc.strerror or exc})", where=str(path)) from None
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            sample = Sample.model_validate_json(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            if line.endswith(b"\n"):
                raise EvalkitError("not a sample record", where=f"{path}:{number}",
                                   hint=f"delete line {number}; evalkit run SUITE --resume {path.parent} then runs "
                                        "that sample again") from None
            continue
        samples.pop(sample.key or number, None)
        samples[sample.key or number] = sample
    return list(samples.values())


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first['msg'].lower()}{more}"
    return f"{type(exc).__name__}: {exc}"


def manifest_from_v1(header: dict[str, Any]) -> RunManifest:
    """An evalkit 0.1 header as a manifest: its metrics were all higher-is-better scores, and its
    samples carry latency, so the operational metrics are measured for it too."""
    from evalkit.metrics.operational import OPERATIONAL

    metrics = []
    for entry in header["metrics"]:
        base, _, k = entry["name"].partition("@")
        metrics.append(MetricSpec(name=entry["name"], base=base, params={"k": int(k)} if k else {},
                                  judge=entry.get("judge")))
    judged = next((m for m in header["metrics"] if m.get("judge")), None)
    judge = JudgeInfo(name=judged["judge"], kind="offline" if judged["judge"].startswith("offline") else "ragas",
                      agreement=judged.get("judge_agreement")) if judged else None
    return RunManifest(
        schema=SCHEMA_V1, run_id=header["run_id"], suite=SuiteInfo(**header["suite"]),
        evalkit_version=header.get("evalkit_version", ""), git_commit=header.get("git_commit"),
        started_at=header.get("started_at", ""), n_cases=header["n_cases"],
        candidates=[CandidateInfo(**c) for c in header["candidates"]],
        metrics=metrics + [spec for spec in OPERATIONAL if spec.name not in {m.name for m in metrics}],
        judge=judge, gates=header.get("gates", []), max_error_rate=header.get("max_error_rate", 0.0),
        allow_skipped=header.get("allow_skipped", False))
