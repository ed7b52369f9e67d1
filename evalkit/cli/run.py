"""`evalkit validate`, `evalkit run` and `evalkit plan`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evalkit.cli.app import (
    NEWEST,
    BaselineOpt,
    JunitOpt,
    MarkdownOpt,
    SuiteArg,
    TracesOpt,
    TrackingOpt,
    app,
    check_traces,
    err,
    out,
    run_stoppable,
)
from evalkit.cli.progress import RunProgress
from evalkit.cli.publishing import publish_run
from evalkit.core.errors import EvalkitError


@app.command()
def validate(suite: SuiteArg) -> None:
    """Check a suite (schema, corpus, cases, metric names) without running anything."""
    from evalkit.config.suite import load_suite

    loaded = load_suite(suite)
    for note in loaded.notes:
        err.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    corpus = f"{len(loaded.corpus)} documents, " if loaded.corpus else ""
    out.print(f"ok: {suite}: {corpus}{len(loaded.cases)} cases, {len(loaded.candidates)} candidates, "
              f"{len(loaded.spec.metrics)} metrics, {len(loaded.spec.gates)} gates")


@app.command()
def run(
    suite: SuiteArg,
    reports_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("reports"),
    cache_dir: Annotated[Path | None, typer.Option(help="Cache for indexes and model responses [default: .evalkit-cache or $EVALKIT_CACHE_DIR]")] = None,
    tracking_uri: TrackingOpt = None,
    mlflow: Annotated[bool, typer.Option(help="Log the run to MLflow.")] = True,
    mlflow_traces: TracesOpt = "failed",
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N cases (replaces the suite's own limit).")] = None,
    candidate: Annotated[list[str] | None, typer.Option(help="Run only this candidate (repeatable); gates on the others are left out.", show_default=False)] = None,
    max_error_rate: Annotated[float | None, typer.Option(min=0, max=1, help="Share of errored samples above which the run is incomplete (exit 3) [default: the suite's, else 0].")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Samples in flight at once [default: the suite's, else 4].")] = None,
    baseline: BaselineOpt = None,
    junit: JunitOpt = None,
    markdown: MarkdownOpt = None,
    repeat: Annotated[int, typer.Option(min=1, help="Run N times and measure each metric's run-to-run spread (noise.json); the model-call cache is bypassed.")] = 1,
    cache: Annotated[bool, typer.Option(help="Use the caches: model responses, outputs and scores (--no-cache: compute everything, store nothing).")] = True,
    refresh: Annotated[bool, typer.Option(help="Compute everything again and overwrite the cached model responses.")] = False,
    allow_skipped: Annotated[bool, typer.Option(help="Let gates on candidates skipped for missing credentials pass.")] = False,
    resume: Annotated[str | None, typer.Option(help="Continue a run: `--resume` alone takes the suite's newest incomplete run, `--resume RUN_DIR` that one. Stored samples are kept; only the missing ones run.", show_default=False)] = None,
    retry_errors: Annotated[bool, typer.Option(help="With --resume: also run again the samples that errored (the newest run, complete or not).")] = False,
    max_usd: Annotated[float | None, typer.Option(min=0, help="Stop starting new samples once this many dollars are spent (over the suite's budget); the run can be resumed.")] = None,
    executor: Annotated[str | None, typer.Option(help="local (this process) or ray (a Ray cluster: --ray-address, $RAY_ADDRESS, else a local Ray instance) [default: the suite's, else local].", show_default=False)] = None,
    ray_address: Annotated[str | None, typer.Option(help="The Ray cluster to join (e.g. 127.0.0.1:6379) [default: $RAY_ADDRESS].", show_default=False)] = None,
) -> None:
    """Run a suite: every candidate on every case, then metrics, gates, results, MLflow and the HTML report."""
    import gc

    from evalkit.api import load_suite, run_async, run_options
    from evalkit.cli.mlflow_ahead import MlflowAhead

    check_traces(mlflow_traces)
    # MLflow is imported in a second process while the run goes on, and logs the finished run
    ahead = MlflowAhead(tracking_uri, mlflow_traces, cache_dir).start() if mlflow else None
    try:
        loaded = load_suite(suite, limit=limit, candidates=candidate)
        for note in loaded.notes:
            err.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
        if retry_errors and resume is None:
            raise EvalkitError("--retry-errors goes with --resume", hint="evalkit run SUITE --resume --retry-errors")
        if resume is not None and repeat > 1:
            raise EvalkitError("--resume continues one run; it does not go with --repeat")
        resume_dir = None
        if resume is not None:
            from evalkit.runner.resume import find_run

            resume_dir = (find_run(reports_dir, loaded.name, incomplete_only=not retry_errors) if resume == NEWEST
                          else Path(resume))
        totals = {c.name: len(loaded.cases) for c in loaded.candidates if not c.missing_credentials()}
        err.print(f"[bold]{loaded.name}[/bold]: {len(loaded.cases)} cases × {len(loaded.candidates)} candidates")
        options = run_options(reports_dir=reports_dir, cache_dir=cache_dir, max_error_rate=max_error_rate,
                              concurrency=concurrency, baseline=baseline, tracking_uri=tracking_uri,
                              use_cache=cache and repeat == 1, refresh=refresh, allow_skipped=allow_skipped,
                              resume=resume_dir, retry_errors=retry_errors, max_usd=max_usd)
        runs = []
        for number in range(1, repeat + 1):
            if repeat > 1:
                err.print(f"repeat {number} of {repeat}")
            chosen = _executor(executor or loaded.spec.executor, loaded, options, limit, concurrency, ray_address,
                               candidate)
            try:
                with RunProgress(err, totals) as progress:
                    runs.append(run_stoppable(run_async(loaded, options, executor=chosen, progress=progress)).run)
            finally:
                gc.unfreeze()
        finished = runs[-1] if repeat == 1 else _record_noise(runs, baseline, tracking_uri)
        publish_run(finished, tracking_uri, log_mlflow=mlflow, junit=junit, markdown=markdown, traces=mlflow_traces,
                    cache_dir=options.cache_dir, mlflow_sink=ahead)
    finally:
        if ahead is not None:
            ahead.stop()
    assert finished.summary is not None
    raise typer.Exit(int(finished.summary.exit_code))


def _executor(kind: str, suite: Any, options: Any, limit: int | None, concurrency: int | None,
              ray_address: str | None, only: list[str] | None = None) -> Any:
    import gc

    from evalkit.runner.execute import LocalExecutor

    samples_at_once = concurrency or suite.spec.concurrency
    if kind == "local":
        # what is imported and built before the samples start lives for the whole run: keep it out of
        # the garbage collector's scans, whose pauses stall every call in flight (benchmarks/bench_llm.py)
        return LocalExecutor(samples_at_once, on_prepared=gc.freeze)
    if kind != "ray":
        raise EvalkitError(f"unknown executor '{kind}'", hint="--executor local or --executor ray")
    if suite.spec.budget is not None or options.max_usd is not None:
        raise EvalkitError("a spending cap needs the local executor (Ray workers do not share a running total)",
                           hint="drop --max-usd / budget:, or run with --executor local")
    from evalkit.runner.ray_executor import RayExecutor, WorkerSpec

    spec = WorkerSpec(suite_path=str(suite.path.resolve()), limit=limit, only=only,
                      cache_dir=str(options.cache_dir.resolve()),
                      use_cache=options.use_cache, refresh=options.refresh, concurrency=samples_at_once)
    return RayExecutor(spec, ray_address)


def _record_noise(runs: list[Any], baseline: str | None, tracking_uri: str | None) -> Any:
    """Write noise.json into the last run, print the spread, and re-judge its gates with it."""
    from rich.table import Table

    from evalkit.analysis.noise import measure
    from evalkit.runner.pipeline import finish_folder
    from evalkit.runner.store import write_noise

    last = runs[-1]
    noise = measure([r.summary.candidates for r in runs])
    write_noise(last.folder, noise, [r.folder.name for r in runs])
    table = Table(title=f"run-to-run spread over {len(runs)} runs (sd of the mean)", title_justify="left")
    table.add_column("metric")
    for name in noise:
        table.add_column(name, justify="right")
    for metric in last.metrics:
        table.add_row(metric, *(f"{noise[c][metric]['sd']:.4f}" if metric in noise[c] else "–" for c in noise))
    out.print(table)
    return finish_folder(last, complete=True, baseline=baseline, tracking_uri=tracking_uri, noise=noise)


@app.command()
def plan(
    suite: SuiteArg,
    latency_s: Annotated[float, typer.Option(min=0, help="Assumed seconds per model call, for the time estimate.")] = 1.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N cases (replaces the suite's own limit).")] = None,
) -> None:
    """What a run will cost, without calling anything: model calls, tokens, dollars and time per candidate and judge."""
    from rich.table import Table

    from evalkit.config.suite import load_suite
    from evalkit.runner.estimate import ANSWER_TOKENS, estimate

    loaded = load_suite(suite, limit=limit)
    estimates = estimate(loaded, latency_s)
    opaque = [c.name for c in loaded.candidates if c.kind in ("python", "http")]
    unseen = (f"; {', '.join(opaque)} {'runs' if len(opaque) == 1 else 'run'} your own code or service, whose "
              "model calls evalkit cannot see or count" if opaque else "")
    if not estimates:
        out.print(f"{loaded.name}: no candidate or judge that evalkit runs calls a model{unseen}", soft_wrap=True)
        return
    table = Table(title=f"{loaded.name}: {len(loaded.cases)} cases, estimated before running", title_justify="left")
    for column in ("who", "model", "calls", "input tokens", "output tokens", "cost", "time", "tokens counted by"):
        table.add_column(column, justify="right" if column in ("calls", "input tokens", "output tokens", "cost", "time")
                         else "left")
    for e in estimates:
        table.add_row(e.owner, e.model, f"{e.calls:,}", f"{e.input_tokens:,}", f"{e.output_tokens:,}",
                      "unpriced" if e.cost_usd is None else f"${e.cost_usd:.4f}", f"{e.seconds:,.0f} s", e.tokenizer)
    out.print(table)
    priced = [e.cost_usd for e in estimates if e.cost_usd is not None]
    out.print(f"total: {sum(e.calls for e in estimates):,} calls, ${sum(priced):.4f}"
              + (" (and unpriced models)" if len(priced) < len(estimates) else ""))
    if unseen:
        out.print(f"not counted{unseen}", soft_wrap=True)
    out.print(f"assumed: answers of {ANSWER_TOKENS} tokens unless max_tokens is set; a retriever's passages fill "
              f"top_k chunks of chunk_size tokens; {latency_s:g} s per call at each model's concurrency")
