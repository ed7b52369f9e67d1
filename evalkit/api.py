"""evalkit from Python: load a suite, run it, read a saved run, compare two, publish one.

The CLI and the pytest plugin are built on these functions, so a notebook gets the same run
folder, the same numbers and the same report as `evalkit run`:

    import evalkit

    result = evalkit.run("suites/examples/quickstart/suite.yaml", mlflow=False)
    result.passed, result.metrics()          # gate outcome; one row per candidate and metric
    result.samples                           # one row per case and candidate (pandas)
    evalkit.compare(evalkit.read_run(old_folder), result)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from evalkit.core.errors import EvalkitError

__all__ = ["EvalkitError", "Result", "compare", "load_suite", "publish", "read_run", "run", "run_async", "run_options"]

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from evalkit.analysis.compare import Comparison
    from evalkit.config.suite import Suite
    from evalkit.core.run import Run, Summary, Verdict
    from evalkit.runner.execute import Executor
    from evalkit.runner.pipeline import Progress, RunOptions
    from evalkit.sinks.base import Sink

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    """A finished run: its folder, summary, gate verdicts and samples."""

    run: Run

    @property
    def folder(self) -> Path:
        return self.run.folder

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def summary(self) -> Summary:
        assert self.run.summary is not None, "a Result holds a finished run"
        return self.run.summary

    @property
    def gates(self) -> list[Verdict]:
        return self.summary.gates

    @property
    def verdict(self) -> list[str]:
        """What the numbers mean for the choice between candidates, in sentences."""
        return self.summary.verdict

    @property
    def exit_code(self) -> int:
        """What `evalkit run` exits with: 0 passed, 1 a gate failed, 3 too many samples errored."""
        return int(self.summary.exit_code)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def metrics(self) -> pd.DataFrame:
        """One row per candidate and metric: value, its 95% CI, and how many samples were scored,
        errored or not applicable."""
        import pandas as pd

        return pd.DataFrame([{"candidate": c.name, **agg.model_dump(exclude={"ppi"})}
                             for c in self.summary.candidates for agg in c.metrics.values()])

    @cached_property
    def samples(self) -> pd.DataFrame:
        """One row per case and candidate: question, answer, retrieved ids, latency, cost, and
        `score.<metric>` (with `error.<metric>` / `skipped.<metric>` saying why one is missing)."""
        import pandas as pd

        from evalkit.runner.export import sample_rows

        return pd.DataFrame(sample_rows(self.run))

    def __repr__(self) -> str:
        return f"Result({self.run.manifest.suite.name!r}, run {self.run_id}, {self.summary.status}, " \
               f"exit code {self.exit_code}, {len(self.run.samples)} samples)"


def load_suite(path: str | Path, *, limit: int | None = None, candidates: list[str] | None = None) -> Suite:
    """Parse and validate a suite file, and load its corpus and cases. A problem raises
    EvalkitError, whose message names the file, line and field."""
    from evalkit.config.suite import load_suite as load

    return load(Path(path), limit=limit, only=candidates)


def run_options(*, reports_dir: str | Path = "reports", cache_dir: str | Path | None = None,
                baseline: str | None = None, tracking_uri: str | None = None, concurrency: int | None = None,
                max_error_rate: float | None = None, use_cache: bool = True, refresh: bool = False,
                allow_skipped: bool = False, resume: str | Path | None = None, retry_errors: bool = False,
                max_usd: float | None = None) -> RunOptions:
    """How to run a suite; each option is the `evalkit run` option of the same name. None takes
    the suite's setting (concurrency, max_error_rate) or evalkit's default (the cache folder:
    $EVALKIT_CACHE_DIR, else .evalkit-cache)."""
    from evalkit.core.cache import cache_dir as default_cache_dir
    from evalkit.runner.pipeline import RunOptions

    return RunOptions(reports_dir=Path(reports_dir), cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                      max_error_rate=max_error_rate, concurrency=concurrency, baseline=baseline,
                      tracking_uri=tracking_uri, use_cache=use_cache, refresh=refresh, allow_skipped=allow_skipped,
                      resume=Path(resume) if resume is not None else None, retry_errors=retry_errors, max_usd=max_usd)


async def run_async(suite: Suite | str | Path, options: RunOptions | None = None, *, executor: Executor | None = None,
                    progress: Progress | None = None) -> Result:
    """Run a suite as a coroutine, without publishing: for code with an event loop of its own (the
    CLI runs it under its signal handling). `executor` [default: this process, the suite's
    concurrency] and `progress` (told of each stage and sample) are for callers that draw progress
    or use Ray."""
    from evalkit.runner.pipeline import run_suite

    loaded = suite if not isinstance(suite, str | Path) else load_suite(suite)
    return Result(await run_suite(loaded, options or run_options(), executor=executor, progress=progress))


def run(suite: Suite | str | Path, *, reports_dir: str | Path = "reports", cache_dir: str | Path | None = None,
        baseline: str | None = None, mlflow: bool = True, tracking_uri: str | None = None, html: bool = True,
        concurrency: int | None = None, max_error_rate: float | None = None, use_cache: bool = True,
        refresh: bool = False, allow_skipped: bool = False, resume: str | Path | None = None,
        retry_errors: bool = False, max_usd: float | None = None) -> Result:
    """Run a suite (a path or a loaded Suite) as `evalkit run` does: every candidate on every case,
    then metrics, gates and the verdict into reports_dir/<suite>/<run id>/, then the HTML report
    (`html`) and the MLflow run (`mlflow`, at `tracking_uri` [default: ./mlflow.db]). The options
    are the CLI's of the same names (see run_options). Works inside a running event loop too (a
    notebook): the run then has a thread of its own."""
    options = run_options(reports_dir=reports_dir, cache_dir=cache_dir, baseline=baseline, tracking_uri=tracking_uri,
                          concurrency=concurrency, max_error_rate=max_error_rate, use_cache=use_cache,
                          refresh=refresh, allow_skipped=allow_skipped, resume=resume, retry_errors=retry_errors,
                          max_usd=max_usd)
    result = _wait(run_async(suite, options))
    publish(result, html=html, mlflow=mlflow, tracking_uri=tracking_uri, cache_dir=options.cache_dir)
    return result


def read_run(folder: str | Path, *, baseline: str | None = None, tracking_uri: str | None = None,
             labels: str | Path | None = None) -> Result:
    """A saved run folder (reports/<suite>/<run id>), its summary computed again as `evalkit report`
    does: `baseline` for no_regression gates that name none, `labels` (a labels file) instead of the
    suite's."""
    from evalkit.runner.pipeline import finish_folder
    from evalkit.runner.store import read_run as read

    saved = read(Path(folder))
    # a folder with fewer samples than planned (killed before its summary) is incomplete, whatever it says
    complete = ((saved.summary is None or saved.summary.status == "complete")
                and len(saved.samples) >= saved.manifest.expected_samples)
    return Result(finish_folder(saved, complete=complete, baseline=baseline, tracking_uri=tracking_uri,
                                labels=Path(labels) if labels is not None else None))


def compare(old: Result | Run | str | Path, new: Result | Run | str | Path, *, metric: str | None = None,
            top: int = 10) -> Comparison:
    """Paired comparison of two runs of a suite on their shared cases: each metric's change with its
    CI and p-value, and the cases that moved most on `metric` [default: the first gated one]."""
    from evalkit.analysis.compare import compare_runs

    def as_run(run: Result | Run | str | Path) -> Run:
        if isinstance(run, str | Path):
            from evalkit.runner.store import read_run as read

            return read(Path(run), passages=False)
        return run.run if isinstance(run, Result) else run

    return compare_runs(as_run(old), as_run(new), metric, top)


def publish(result: Result | Run, *, console: Console | None = None, html: bool = True, mlflow: bool = False,
            tracking_uri: str | None = None, traces: str = "failed", junit: Path | None = None,
            markdown: Path | None = None, cache_dir: str | Path | None = None, sinks: Sequence[Sink] = (),
            say: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None) -> list[str]:
    """Publish a finished run: the console table and verdict (given a rich Console), the HTML report
    (with the passages' texts and the baseline's per-question change), JUnit, Markdown, MLflow
    (which logs the report), then `sinks` (objects with a `name` and a `publish(run)`) and every
    plugin's sink (entry-point group evalkit.sinks). A sink that fails is a warning; returns the
    names of those that did."""
    import warnings

    from evalkit.core.cache import cache_dir as default_cache_dir
    from evalkit.runner.passages import texts_for
    from evalkit.sinks.base import publish as to_sinks
    from evalkit.sinks.base import sink_kinds
    from evalkit.sinks.traces import trace_choice

    choice = trace_choice(traces)
    run = result.run if isinstance(result, Result) else result
    # the passages' texts, for the report's question detail and the traces' retriever spans
    with_texts = texts_for(run, Path(cache_dir) if cache_dir else default_cache_dir()) if html or mlflow else None
    kind = sink_kinds.get
    chosen: list[Sink] = [kind("console")(console)] if console is not None else []
    chosen += [kind("html")(with_texts, _baseline(run, tracking_uri))] if html else []
    chosen += [kind("junit")(junit)] if junit else []
    chosen += [kind("markdown")(markdown)] if markdown else []
    chosen += [kind("mlflow")(tracking_uri, choice, with_texts)] if mlflow else []
    chosen += [*sinks, *(kind(name)() for name in sink_kinds.from_plugins())]
    return to_sinks(run, chosen, say=say or print,
                    warn=warn or (lambda line: warnings.warn(f"evalkit: {line}", stacklevel=3)))


def _baseline(run: Run, tracking_uri: str | None) -> Run | None:
    """The baseline the run was compared with, for the report's per-question change (None if gone)."""
    from evalkit.runner.baselines import load

    if run.summary is None or run.summary.baseline is None:
        return None
    return load(run.summary.baseline, run.manifest.suite.name, run.folder.resolve().parent.parent, tracking_uri)


def _wait(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end, in a thread of its own when this one already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:  # outside the except block: an error of the run is not chained to "no running loop"
        return asyncio.run(work)
    outcome: list[Any] = []

    def in_thread() -> None:
        try:
            outcome.append(asyncio.run(work))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    thread = threading.Thread(target=in_thread, name="evalkit-run")
    thread.start()
    thread.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]
