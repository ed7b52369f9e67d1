"""A run, stage by stage: build the scorers, plan, execute into the store, then finish.

    suite -> plan (manifest, work items) -> execute (Executor; Sampler: answer, score)
          -> store (one writer, samples.jsonl) -> finish (summary, verdicts) -> summary.json

Errors are data: a candidate or metric that raises produces a sample with its error, and the
run goes on. Process-wide settings (gc, threads, paths) are the caller's: this module sets none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evalkit.candidates.base import BuildContext
from evalkit.config.suite import Suite
from evalkit.core.cache import StageCache
from evalkit.core.errors import RunStopped
from evalkit.core.records import Sample
from evalkit.core.run import JudgeInfo, Run
from evalkit.core.specs import AbstentionSpec, BudgetSpec
from evalkit.metrics.base import Metric, MetricContext, build_metric
from evalkit.metrics.checks import check_metrics
from evalkit.runner.execute import Executor, LocalExecutor
from evalkit.runner.plan import Plan, plan_run
from evalkit.runner.resume import load_resumable, remaining
from evalkit.runner.sample import Sampler
from evalkit.runner.store import (
    SampleStore,
    StoreFull,
    add_usage,
    read_noise,
    read_usage,
    write_passages,
    write_summary,
    write_usage,
)


class Progress(Protocol):
    """Told of each stage of a run and each sample as it finishes (the CLI draws bars or log lines)."""

    def stage(self, text: str) -> None: ...

    def advance(self, sample: Sample) -> None: ...

    def already_done(self, sample: Sample) -> None: ...


log = logging.getLogger("evalkit")


@dataclass(frozen=True)
class RunOptions:
    reports_dir: Path
    cache_dir: Path
    max_error_rate: float | None = None  # None: the suite's
    concurrency: int | None = None  # samples in flight; None: the suite's
    baseline: str | None = None  # default reference of no_regression gates
    tracking_uri: str | None = None  # where MLflow baselines are looked up
    use_cache: bool = True
    refresh: bool = False
    allow_skipped: bool = False
    resume: Path | None = None  # a run folder to continue instead of starting a new run
    max_usd: float | None = None  # --max-usd: a spend cap for this run, over the suite's budget
    retry_errors: bool = False  # with resume: run again the samples that errored


def build_scoring(spec: Any, metric_names: list[str], context: BuildContext, abstention: AbstentionSpec | None = None,
                  as_of: Any = None) -> tuple[Any, list[Metric], JudgeInfo]:
    """The judge a spec names (None: offline), the metrics, and how the manifest names the judge."""
    from evalkit.judges.calibration import agreement_note
    from evalkit.judges.factory import build_judge

    judge = build_judge(spec, context.call_cache)
    endpoint = spec.endpoint if spec is not None else None
    metric_context = MetricContext(judge=judge, endpoint=endpoint, abstention=abstention or AbstentionSpec(),
                                   corpus=context.corpus, as_of=as_of)
    metrics = [build_metric(name, metric_context) for name in metric_names]
    info = JudgeInfo(name=judge.name, kind=judge.kind,
                     spec=spec.model_dump(mode="json") if spec is not None else {"kind": "offline"},
                     agreement=agreement_note(judge.name))
    return judge, metrics, info


async def run_suite(suite: Suite, options: RunOptions, *, executor: Executor | None = None,
                    progress: Progress | None = None) -> Run:
    """Run the suite and write its folder under reports_dir/<suite>/<run id>/; return the finished run.

    A candidate whose credentials are missing is skipped with the reason; its gates fail unless
    `allow_skipped`. Model-call usage and cost per candidate and judge go to usage.json."""
    with usable_cache(options.cache_dir) as cache_dir:
        return await _run(suite, options, cache_dir, executor, progress)


@contextlib.contextmanager
def usable_cache(folder: Path) -> Iterator[Path]:
    """The cache folder, or, when it cannot be written, a temporary one for this run (with a warning):
    an unwritable cache must cost speed, never results."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        log.warning("cannot write the cache in %s (%s); indexes and model responses are cached for this run only",
                    folder, exc.strerror or exc)
        with tempfile.TemporaryDirectory(prefix="evalkit-cache-") as temporary:
            yield Path(temporary)
        return
    yield folder


@dataclass
class Setup:
    """What every process of a run builds from the suite before its first sample: the same in the
    driver and in each Ray worker, so that work-item keys and metrics match."""

    context: BuildContext
    judge: Any
    metrics: list[Metric]
    judge_info: JudgeInfo
    plan: Plan

    @property
    def judge_key(self) -> dict[str, Any]:
        """What scores are cached under, of the judge (its agreement note is not part of it)."""
        return self.judge_info.model_dump(mode="json", exclude={"agreement"})


def set_up(suite: Suite, cache_dir: Path, use_cache: bool, refresh: bool, max_error_rate: float,
           allow_skipped: bool) -> Setup:
    context = BuildContext(suite.corpus, suite.directory, cache_dir, use_cache, refresh, as_of=suite.as_of)
    judge, metrics, judge_info = build_scoring(suite.spec.judge, suite.spec.metrics, context, suite.spec.abstention,
                                               suite.as_of)
    metrics += check_metrics(suite.spec.checks, suite.cases)
    plan = plan_run(suite, [m.spec for m in metrics], judge_info, max_error_rate=max_error_rate,
                    allow_skipped=allow_skipped)
    return Setup(context, judge, metrics, judge_info, plan)


async def _run(suite: Suite, options: RunOptions, cache_dir: Path, executor: Executor | None,
               progress: Progress | None) -> Run:
    max_error_rate = suite.spec.max_error_rate if options.max_error_rate is None else options.max_error_rate
    setup = set_up(suite, cache_dir, options.use_cache, options.refresh, max_error_rate, options.allow_skipped)
    context, judge, metrics, plan = setup.context, setup.judge, setup.metrics, setup.plan
    endpoint = suite.spec.judge.endpoint if suite.spec.judge is not None else None
    judge_missing = endpoint.missing_key() if endpoint else None
    say: Callable[[str], None] = progress.stage if progress else (lambda text: None)
    if judge_missing:
        say(f"judged metrics skipped: the judge's {judge_missing}")
    for candidate in plan.manifest.candidates:
        if candidate.skipped:
            say(f"skipping {candidate.name}: {candidate.skipped}")
    manifest, items = plan.manifest, plan.items
    samples: list[Sample] = []
    folder = options.reports_dir / suite.name / manifest.run_id
    if options.resume is not None:
        previous = load_resumable(options.resume, manifest)
        samples, items = remaining(previous, plan.items, options.retry_errors)
        manifest = manifest.model_copy(update={"run_id": previous.run_id, "started_at": previous.manifest.started_at})
        folder = options.resume
        say(f"resuming {folder}: {len(samples)} samples kept, {len(items)} to run")
        if progress:
            for kept in samples:
                progress.already_done(kept)
    store = SampleStore(folder, manifest, resume=options.resume is not None)
    # --no-cache and --refresh compute everything; --repeat (which measures noise) implies --no-cache
    stages = StageCache(cache_dir) if options.use_cache and not options.refresh else None
    budget = suite.spec.budget
    if options.max_usd is not None:
        budget = (budget or BudgetSpec()).model_copy(update={"max_usd": options.max_usd})

    def spent() -> tuple[float, int]:
        owners = [*sampler.spenders().values(), judge.stats]
        stats = [s for s in owners if s is not None]
        return sum(s.cost_usd for s in stats), sum(s.calls for s in stats)

    sampler = Sampler(suite, metrics, context, judge_missing, announce=say, stages=stages,
                      judge_key=setup.judge_key, budget=budget,
                      spent=spent, judge_stats=judge.stats)
    if replayed := sampler.preload(items):
        say(f"{replayed} of {len(items)} outputs replayed from the cache")

    def emit(sample: Sample) -> None:
        store.add(sample)
        samples.append(sample)
        if progress:
            progress.advance(sample)

    stopped: str | None = None
    try:
        await (executor or LocalExecutor(options.concurrency or suite.spec.concurrency)).execute(
            items, sampler, emit)
    except asyncio.CancelledError:  # SIGINT or SIGTERM: asyncio.run cancels the run
        stopped = "interrupted"
    except StoreFull as exc:
        stopped = str(exc)
    else:
        stopped = sampler.stopped
    finally:
        store.close()
        if stages is not None:
            stages.close()
        spenders = {**sampler.spenders(), f"judge:{judge.name}": judge.stats}
        if any(stats is not None for stats in spenders.values()):
            from evalkit.models.llm import close_connections

            await close_connections()
        run = Run(folder=store.folder, manifest=manifest, samples=samples)
        summarized = True
        try:
            usage = {name: stats.as_dict() for name, stats in spenders.items() if stats is not None}
            write_usage(store.folder, add_usage(read_usage(store.folder), usage) if options.resume else usage)
            # the passages' texts, kept with the run: its report, rescore and labels need no suite
            texts = sampler.passages.named_by(samples, {c.name: c.params for c in manifest.candidates})
            write_passages(store.folder, texts)
            run = run.model_copy(update={"passages": texts})
            run = finish_folder(run, complete=stopped is None and len(samples) == len(plan.items),
                                baseline=options.baseline, tracking_uri=options.tracking_uri, must_write=True)
        except OSError as exc:  # e.g. the disk that filled up: the samples are what matters
            summarized = False
            stopped = stopped or f"cannot write the run's usage, passages or summary ({exc.strerror or exc})"
    if stopped is not None:
        raise RunStopped(stopped, store.folder, len(samples), len(plan.items), resumable=True, summarized=summarized)
    return run


def finish_folder(run: Run, *, complete: bool, baseline: str | None = None, tracking_uri: str | None = None,
                  noise: dict[str, Any] | None = None, labels: Path | None = None, must_write: bool = False) -> Run:
    """Finish a run read from (or just written to) its folder, and write its summary.json.

    `baseline` is the default reference of no_regression gates that name none; `labels` a labels
    file to use instead of the suite's. A summary that cannot be written (a read-only folder, a full
    disk) is a warning, and the summary is still returned; with `must_write`, the OSError."""
    from evalkit.config.labels import read_labels
    from evalkit.runner.baselines import Resolver
    from evalkit.runner.finish import finish
    from evalkit.runner.passages import suite_file

    if labels is None and run.manifest.labels is not None and (suite := suite_file(run)) is not None:
        labels = suite.parent / run.manifest.labels
    resolve = Resolver(run.manifest.suite.name, run.folder.parent.parent, baseline, tracking_uri)
    summary = finish(run.manifest, run.samples, usage=read_usage(run.folder), complete=complete,
                     resolve_baseline=resolve, noise=noise if noise is not None else read_noise(run.folder),
                     labels=read_labels(labels) if labels is not None else None)
    summary.baseline = resolve.used()
    summary.labels = str(labels) if labels is not None else None
    try:
        write_summary(run.folder, summary)
    except OSError as exc:  # a read-only folder or a full disk: the summary is still shown and gated on
        if must_write:
            raise
        log.warning("%s/summary.json not written (%s); the results below are complete", run.folder,
                    exc.strerror or exc)
    return run.model_copy(update={"summary": summary})
