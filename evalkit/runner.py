"""Run every candidate on every case, score each output, and stream the records to the run folder.

Errors are data: a candidate or metric that raises produces a record with its error, and the run
goes on. Work is bounded by one semaphore (the suite's `concurrency`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.candidates.base import BuildContext, Candidate, Output
from evalkit.errors import EvalkitError, ExitCode
from evalkit.gates import Verdict, evaluate_gates, verdicts_to_json
from evalkit.metrics.base import Metric, MetricContext, Score, build_metric
from evalkit.results import CandidateSummary, Run, RunWriter, aggregate, summaries_to_json, write_summary
from evalkit.suite import Case, Suite

USAGE = "usage.json"
Progress = Callable[[str], None]  # called with the candidate name after each sample


@dataclass
class RunOutcome:
    folder: Path
    header: dict[str, Any]
    samples: list[dict[str, Any]]
    summaries: list[CandidateSummary]
    verdicts: list[Verdict]
    error_rate: float
    max_error_rate: float
    summary: dict[str, Any]  # what summary.json holds

    @property
    def run(self) -> Run:
        """The run as every sink reads it, without reading it back from disk."""
        return Run(self.folder, self.header, self.samples, self.summary)

    @property
    def exit_code(self) -> ExitCode:
        if self.error_rate > self.max_error_rate:
            return ExitCode.INCOMPLETE
        if any(not v.passed for v in self.verdicts):
            return ExitCode.GATE_FAILED
        return ExitCode.OK


def git_commit(directory: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                                text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def build_header(suite: Suite, run_id: str, metrics: list[Metric], max_error_rate: float,
                 skipped: dict[str, str], allow_skipped: bool) -> dict[str, Any]:
    from evalkit.judges.calibration import agreement_note

    return {
        "run_id": run_id,
        "suite": {"name": suite.name, "path": str(suite.path), "hash": suite.content_hash,
                  "description": suite.spec.description},
        "evalkit_version": __version__,
        "git_commit": git_commit(suite.directory),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "n_cases": len(suite.cases),
        "candidates": [{"name": c.name, "kind": c.kind, "params": c.params(), "skipped": skipped.get(c.name)}
                       for c in suite.candidates],
        "allow_skipped": allow_skipped,
        "metrics": [{"name": m.name, "judge": m.judge, "judge_agreement": agreement_note(m.judge)} for m in metrics],
        "gates": [g.model_dump() for g in suite.spec.gates],
        "max_error_rate": max_error_rate,
    }


def _short(exc: BaseException, limit: int = 300) -> str:
    """`Type: message`, first line only and bounded: some libraries put whole transcripts in messages."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _score(metric: Metric, case: Case, output: Output, judge_missing: str | None = None) -> Score:
    if output.error:
        return Score(error=f"candidate failed: {output.error}")
    if metric.judge and judge_missing:
        return Score(skipped=f"judge skipped: {judge_missing}")
    for needed in metric.requires:
        if not getattr(case, needed):
            return Score(skipped=f"case has no {needed}")
    try:
        return await metric.score(case, output)
    except Exception as exc:  # a metric bug or a judge failure is recorded, never a pass
        return Score(error=_short(exc))


async def _answer(candidate: Candidate, case: Case) -> Output:
    started = time.perf_counter()
    try:
        output = await candidate.answer(case)
    except Exception as exc:
        return Output(error=_short(exc), latency_s=time.perf_counter() - started)
    return output


def _record(candidate: str, case: Case, output: Output, scores: dict[str, Score]) -> dict[str, Any]:
    passages = []
    for p in output.passages:
        item: dict[str, Any] = {"doc_id": p.doc_id, "rank": p.rank, "score": p.score}
        # corpus-backed passages are re-derivable from node_id; recorded ones keep their text
        item.update({"node_id": p.node_id} if p.node_id else {"text": p.text})
        passages.append(item)
    return {
        "candidate": candidate,
        "case_id": case.id,
        "question": case.question,
        "expected_answer": case.expected_answer,
        "expected_sources": list(case.expected_sources),
        "tags": list(case.tags),
        "output": {"answer": output.answer, "retrieved_ids": output.retrieved_ids, "passages": passages,
                   "citations": output.citations, "usage": output.usage,
                   "latency_s": round(output.latency_s, 6), "error": output.error},
        "scores": {name: {k: v for k, v in asdict(score).items() if v not in (None, {})}
                   for name, score in scores.items()},
    }


async def run_suite(suite: Suite, *, reports_dir: Path, cache_dir: Path, max_error_rate: float | None = None,
                    concurrency: int | None = None, progress: Progress | None = None,
                    on_stage: Callable[[str], None] | None = None, baseline: str | None = None,
                    tracking_uri: str | None = None, use_cache: bool = True, refresh: bool = False,
                    allow_skipped: bool = False) -> RunOutcome:
    """Run the suite and write its results folder under reports_dir/<suite>/<run id>/.

    A candidate whose credentials are missing is skipped with the reason; its gates fail unless
    `allow_skipped`. Model-call usage and cost per candidate and judge go to usage.json."""
    from evalkit.judges.factory import build_judge

    max_error_rate = suite.spec.max_error_rate if max_error_rate is None else max_error_rate
    context = BuildContext(suite.corpus, suite.directory, cache_dir, use_cache, refresh)
    judge = build_judge(suite.spec.judge, context)
    metrics = [build_metric(name, MetricContext(judge=judge, endpoint=suite.spec.judge))
               for name in suite.spec.metrics]
    skipped = {c.name: reason for c in suite.candidates if (reason := c.missing_credentials())}
    judge_missing = suite.spec.judge.missing_key() if suite.spec.judge else None
    if judge_missing and on_stage:
        on_stage(f"judged metrics skipped: the judge's {judge_missing}")
    run_id = new_run_id()
    header = build_header(suite, run_id, metrics, max_error_rate, skipped, allow_skipped)
    writer = RunWriter(reports_dir / suite.name / run_id, header)
    samples: list[dict[str, Any]] = []
    spenders: dict[str, Any] = {}
    try:
        semaphore = asyncio.Semaphore(concurrency or suite.spec.concurrency)
        for config in suite.candidates:
            if config.name in skipped:
                if on_stage:
                    on_stage(f"skipping {config.name}: {skipped[config.name]}")
                continue
            candidate = config.build(context)
            spenders[f"candidate:{config.name}"] = candidate
            if on_stage:
                on_stage(f"preparing {config.name}")
            failure = await _prepare(candidate, suite.cases)

            async def one(case: Case, candidate: Candidate = candidate, failure: str | None = failure) -> None:
                async with semaphore:
                    output = Output(error=failure) if failure else await _answer(candidate, case)
                    scores = {m.name: await _score(m, case, output, judge_missing) for m in metrics}
                record = _record(candidate.name, case, output, scores)
                writer.add(record)
                samples.append(record)
                if progress:
                    progress(candidate.name)

            # everything imported and built so far lives for the whole run: keep it out of the garbage
            # collector's scans, whose pauses stall every call in flight (1.3x -> 1.15x ideal time in
            # benchmarks/bench_llm.py)
            gc.freeze()
            try:
                await asyncio.gather(*(one(case) for case in suite.cases))
            finally:
                gc.unfreeze()
    finally:
        writer.close()
        spenders[f"judge:{judge.name}"] = judge
        if any(getattr(s, "stats", None) is not None for s in spenders.values()):
            from evalkit.llm import close_connections

            await close_connections()
        usage = {name: s.stats.as_dict() for name, s in spenders.items() if getattr(s, "stats", None)}
        (writer.folder / USAGE).write_text(json.dumps(usage, indent=2), encoding="utf-8")
        ran = len(suite.candidates) - len(skipped)
        outcome = finish(writer.folder, header, samples, complete=len(samples) == len(suite.cases) * ran,
                         baseline=baseline, tracking_uri=tracking_uri, usage=usage)
    return outcome


async def _prepare(candidate: Candidate, cases: list[Case]) -> str | None:
    """Prepare a candidate; a failure that is not the user's input fails all its samples."""
    try:
        await candidate.prepare(cases)
    except EvalkitError:
        raise
    except Exception as exc:
        return f"prepare failed: {_short(exc)}"
    return None


def finish(folder: Path, header: dict[str, Any], samples: list[dict[str, Any]], complete: bool = True,
           baseline: str | None = None, tracking_uri: str | None = None,
           usage: dict[str, Any] | None = None) -> RunOutcome:
    """Aggregate, judge the gates and write summary.json (also for an interrupted run, or a re-read one).

    `baseline` is the default reference for no-regression gates that do not name their own;
    `usage` is the run's usage.json, read from the folder when not given."""
    from evalkit.baselines import DEFAULT_BASELINE, resolve
    from evalkit.noise import read_noise
    from evalkit.suite import GateSpec

    def resolve_baseline(ref: str | None) -> tuple[str, Any]:
        name = ref or baseline or DEFAULT_BASELINE
        return name, resolve(name, header["suite"]["name"], folder.parent.parent, tracking_uri)

    summaries = aggregate(header, samples)
    if usage is None:
        usage_path = folder / USAGE
        usage = json.loads(usage_path.read_text(encoding="utf-8")) if usage_path.is_file() else {}
    for summary in summaries:
        summary.usage = usage.get(f"candidate:{summary.name}")
    noise = read_noise(folder)
    verdicts = evaluate_gates([GateSpec.model_validate(g) for g in header["gates"]], summaries, samples,
                              resolve_baseline, noise, header.get("allow_skipped", False))
    max_error_rate = header["max_error_rate"]
    errored = sum(bool(s["output"].get("error")) or any("error" in sc for sc in s["scores"].values())
                  for s in samples)
    expected = header["n_cases"] * sum(not c.get("skipped") for c in header["candidates"])
    error_rate = (errored + (expected - len(samples))) / max(1, expected)
    record = {
        "status": "complete" if complete else "interrupted",
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "n_samples": len(samples), "n_errored_samples": errored, "error_rate": error_rate,
        "candidates": summaries_to_json(summaries),
        "gates": verdicts_to_json(verdicts),
        **({"noise": noise} if noise else {}),
        "judges": {name: value for name, value in usage.items() if name.startswith("judge:")},
    }
    write_summary(folder, record)
    return RunOutcome(folder, header, samples, summaries, verdicts, error_rate, max_error_rate, record)
