"""The run results: a versioned schema that every sink reads, written as the run goes.

A run folder holds `header.json` (what ran), `samples.jsonl` (one record per candidate x case,
appended and flushed as each completes, so an interrupted run keeps its finished work) and
`summary.json` (aggregates and gate verdicts, written at the end and rewritable from the others).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from evalkit.cache import write_json_atomic
from evalkit.errors import EvalkitError

SCHEMA = "evalkit.run/1"
HEADER, SAMPLES, SUMMARY = "header.json", "samples.jsonl", "summary.json"


@dataclass
class Aggregate:
    metric: str
    n: int  # samples scored
    n_errors: int  # samples where the metric (or the candidate) failed: never averaged in
    n_skipped: int  # samples the metric does not apply to
    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    judge: str | None = None


@dataclass
class CandidateSummary:
    name: str
    n_samples: int
    n_failed: int  # samples where the candidate itself errored
    latency_p50_s: float
    latency_p95_s: float
    metrics: dict[str, Aggregate] = field(default_factory=dict)
    skipped: str | None = None  # why the candidate did not run (e.g. its API key variable is unset)
    usage: dict[str, Any] | None = None  # model calls, tokens, cost, latency (CallStats.as_dict)


class RunWriter:
    """Creates the run folder and appends sample records as they complete."""

    def __init__(self, folder: Path, header: dict[str, Any]):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=False)
        (folder / HEADER).write_text(json.dumps({"schema": SCHEMA, **header}, indent=2), encoding="utf-8")
        self._samples: IO[str] = open(folder / SAMPLES, "a", encoding="utf-8")  # noqa: SIM115

    def add(self, record: dict[str, Any]) -> None:
        self._samples.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._samples.flush()

    def close(self) -> None:
        self._samples.close()


@dataclass
class Run:
    """A run read back from its folder."""

    folder: Path
    header: dict[str, Any]
    samples: list[dict[str, Any]]
    summary: dict[str, Any] | None

    @property
    def candidates(self) -> list[str]:
        return [c["name"] for c in self.header["candidates"]]

    @property
    def metrics(self) -> list[str]:
        return [m["name"] for m in self.header["metrics"]]


def write_summary(folder: Path, summary: dict[str, Any]) -> None:
    write_json_atomic(folder / SUMMARY, summary, indent=2)


def read_run(folder: Path) -> Run:
    header_path = folder / HEADER
    if not header_path.is_file():
        raise EvalkitError(f"not a run folder (no {HEADER})", where=str(folder),
                           hint="pass a folder like reports/<suite>/<run-id>")
    header = json.loads(header_path.read_text(encoding="utf-8"))
    if header.get("schema") != SCHEMA:
        raise EvalkitError(f"unsupported results schema {header.get('schema')!r}", where=str(header_path),
                           hint=f"this evalkit reads {SCHEMA}")
    samples = []
    with open(folder / SAMPLES, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                samples.append(json.loads(line))
            except json.JSONDecodeError:
                # a run killed mid-write leaves a torn last line; everything before it is intact
                if line.endswith("\n"):
                    raise EvalkitError("corrupt sample record", where=f"{folder / SAMPLES}:{number}") from None
    summary_path = folder / SUMMARY
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    return Run(folder, header, samples, summary)


def aggregate(header: dict[str, Any], samples: list[dict[str, Any]]) -> list[CandidateSummary]:
    """Per candidate and metric: n, mean and 95% bootstrap CI over scored samples; errors apart."""
    from evalkit.stats import mean_ci, percentile

    summaries = []
    judges = {m["name"]: m.get("judge") for m in header["metrics"]}
    for candidate in header["candidates"]:
        rows = [s for s in samples if s["candidate"] == candidate["name"]]
        latencies = [s["output"]["latency_s"] for s in rows if not s["output"].get("error")]
        summary = CandidateSummary(
            candidate["name"], len(rows), sum(bool(s["output"].get("error")) for s in rows),
            percentile(latencies, 50), percentile(latencies, 95), skipped=candidate.get("skipped"),
        )
        for metric, judge in judges.items():
            scores = [s["scores"].get(metric, {}) for s in rows]
            values = [sc["value"] for sc in scores if sc.get("value") is not None]
            agg = Aggregate(metric, len(values), sum(bool(sc.get("error")) for sc in scores),
                            sum(bool(sc.get("skipped")) for sc in scores), judge=judge)
            if values:
                agg.mean, agg.ci_low, agg.ci_high = mean_ci(values)
            summary.metrics[metric] = agg
        summaries.append(summary)
    return summaries


def summaries_to_json(summaries: list[CandidateSummary]) -> list[dict[str, Any]]:
    return [asdict(s) for s in summaries]
