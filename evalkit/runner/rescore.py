"""Rescore a saved run: the same outputs, scored again with other metrics or another judge.

No candidate runs. The run folder holds what scoring needs: the outputs, the passages' texts
(evalkit.run/3), the judge, abstention setting and date of the run. The suite file, when it is
still there, gives the current judge and checks (rescoring says so when it changed since the run);
without it, the run's judge scores again and the checks' scores are kept.
Folders without passages (evalkit.run/2) read them back from the suite's corpus. The result is a
new run in the suite's reports folder whose manifest names the run it came from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from evalkit.candidates.base import BuildContext
from evalkit.config.suite import Suite, check_metric_names, load_suite
from evalkit.core.errors import EvalkitError
from evalkit.core.records import Case, Sample
from evalkit.core.run import Run
from evalkit.core.specs import AbstentionSpec
from evalkit.metrics.checks import check_metrics
from evalkit.metrics.operational import OPERATIONAL, OPERATIONAL_NAMES
from evalkit.runner.passages import PassageTexts, changed_since, suite_file
from evalkit.runner.pipeline import build_scoring, finish_folder
from evalkit.runner.plan import new_run_id
from evalkit.runner.score import score_output
from evalkit.runner.store import SampleStore, write_passages

log = logging.getLogger("evalkit")


def _suite(source: Run) -> Suite | None:
    """The run's suite if its file is still there; a warning when it changed since the run."""
    path = suite_file(source)
    if path is None:
        if source.passages is None:
            raise EvalkitError(f"rescoring this run needs its suite to read its passages, and "
                               f"{source.manifest.suite.path} is not there", where=str(source.folder),
                               hint="run rescore where the suite's relative path resolves (run folders of "
                                    "evalkit.run/3 and later keep their passages)")
        return None
    suite = load_suite(path)
    if changed := changed_since(source, suite):
        kept = "the run's own passages" if source.passages is not None else "the current corpus's passages"
        log.warning("%s: rescoring with the suite's current judge and checks, and %s", changed, kept)
    return suite


def _cases(source: Run) -> dict[str, Case]:
    return {s.case_id: Case(id=s.case_id, question=s.question, expected_answer=s.expected_answer,
                            accepted_answers=s.accepted_answers, expected_sources=s.expected_sources, tags=s.tags,
                            answerable=s.answerable, distractors=s.distractors, stale_answers=s.stale_answers)
            for s in source.samples}


async def rescore(source: Run, *, reports_dir: Path, cache_dir: Path, metrics: list[str] | None = None,
                  judge: Any = None, concurrency: int | None = None) -> Run:
    """Score the outputs of `source` again and write them as a new run; return it finished.

    `metrics` default to the source run's, `judge` (a judge spec) to the suite's, else the run's."""
    from evalkit.judges.spec import JudgeSpec

    suite = _suite(source)
    manifest = source.manifest
    requested = metrics or source.metrics
    names = [m for m in requested if m not in OPERATIONAL_NAMES and not m.startswith("check_")]
    if judge is not None:
        spec = judge
    elif suite is not None:
        spec = suite.spec.judge
    else:  # the run's own judge
        spec = TypeAdapter(JudgeSpec).validate_python(manifest.judge.spec) if manifest.judge else None
    cases = _cases(source)
    check_metric_names(names, list(cases.values()), lambda i: "--metrics", spec)
    as_of: dt.date | None
    if suite is not None:
        abstention, as_of = suite.spec.abstention, suite.as_of
        context = BuildContext(suite.corpus, suite.directory, cache_dir, as_of=as_of)
        checks = [m for m in check_metrics(suite.spec.checks, suite.cases) if m.spec.name in requested]
    else:
        abstention = AbstentionSpec.model_validate(manifest.abstention or {})
        as_of = dt.date.fromisoformat(manifest.as_of) if manifest.as_of else None
        context = BuildContext(None, source.folder, cache_dir, as_of=as_of)
        checks = []
    # a check reads the answer only, so without the suite its scores are the run's own
    kept = [] if suite is not None else [m for m in manifest.metrics if m.name in requested
                                         and m.name.startswith("check_")]
    the_judge, built, judge_info = build_scoring(spec, names, context, abstention, as_of)
    scorers: list[Any] = [*built, *checks]
    computed = [*(m.spec for m in scorers), *kept, *OPERATIONAL]
    manifest = manifest.model_copy(update={
        "run_id": new_run_id(), "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "metrics": computed, "judge": judge_info, "source_run": source.run_id,
        # the gates on metrics the new run still has (checks included)
        "gates": [g for g in manifest.gates if g.metric in {spec.name for spec in computed}],
    })
    store = SampleStore(reports_dir / manifest.suite.name / manifest.run_id, manifest)
    params = {c.name: c.params for c in manifest.candidates}
    texts = PassageTexts(context)
    retrieves = {c.name: c.retrieves for c in manifest.candidates}
    if suite is not None:  # folders of evalkit.run/2 do not record it
        retrieves.update({c.name: c.retrieves() for c in suite.candidates})
    reads_passages = any({"passages", "judge"} & set(m.spec.needs) for m in scorers)
    semaphore = asyncio.Semaphore(concurrency or (suite.spec.concurrency if suite else 4))
    judge_missing = spec.endpoint.missing_key() if spec is not None and spec.endpoint else None

    def filled(sample: Sample) -> Any:
        if source.passages is not None:
            return source.with_texts(sample)
        return texts.fill(sample.output, params[sample.candidate])

    async def one(sample: Sample) -> Sample:
        output = filled(sample) if reads_passages else sample.output
        async with semaphore:
            scores = await score_output(scorers, cases[sample.case_id], output, judge_missing,
                                        retrieves.get(sample.candidate, True))
        scores.update({m.name: sample.scores[m.name] for m in kept if m.name in sample.scores})
        return sample.model_copy(update={"scores": scores})

    try:
        rescored = await asyncio.gather(*(one(sample) for sample in source.samples))
        for sample in rescored:
            store.add(sample)
    finally:
        store.close()
        if the_judge.stats is not None:
            from evalkit.models.llm import close_connections

            await close_connections()
    from evalkit.runner.store import write_usage

    write_usage(store.folder, {f"judge:{the_judge.name}": the_judge.stats.as_dict()} if the_judge.stats else {})
    passages = source.passages if source.passages is not None else texts.named_by(list(rescored), params)
    write_passages(store.folder, passages)
    run = Run(folder=store.folder, manifest=manifest, samples=list(rescored), passages=passages)
    return finish_folder(run, complete=source.summary is None or source.summary.status == "complete")
