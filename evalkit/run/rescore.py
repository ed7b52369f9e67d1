"""Rescore a saved run: the same outputs, scored again with other metrics or another judge.

No candidate runs. Corpus passages are stored by node id, so their texts are read back from the
suite's corpus with the chunking the candidate used (the chunks are cached). The result is a new
run in the suite's reports folder whose manifest names the run it came from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from evalkit.candidates.base import BuildContext
from evalkit.config.suite import Suite, check_metric_names, load_suite
from evalkit.core.errors import EvalkitError
from evalkit.core.records import Case, Sample
from evalkit.core.run import Run
from evalkit.metrics.checks import check_metrics
from evalkit.metrics.operational import OPERATIONAL, OPERATIONAL_NAMES
from evalkit.run.passages import PassageTexts
from evalkit.run.pipeline import build_scoring, finish_folder
from evalkit.run.plan import new_run_id
from evalkit.run.score import score_output
from evalkit.run.store import SampleStore


def _suite(source: Run) -> Suite:
    path = Path(source.manifest.suite.path)
    if not path.is_file():
        raise EvalkitError(f"rescoring needs the run's suite to read its passages, and {path} is not there",
                           where=str(source.folder), hint="run rescore where the suite's relative path resolves")
    return load_suite(path)


async def rescore(source: Run, *, reports_dir: Path, cache_dir: Path, metrics: list[str] | None = None,
                  judge: Any = None, concurrency: int | None = None) -> Run:
    """Score the outputs of `source` again and write them as a new run; return it finished.

    `metrics` default to the source run's, `judge` (a judge spec) to the suite's."""
    suite = _suite(source)
    requested = metrics or source.metrics
    names = [m for m in requested if m not in OPERATIONAL_NAMES and not m.startswith("check_")]
    spec = judge if judge is not None else suite.spec.judge
    cases = {s.case_id: Case(id=s.case_id, question=s.question, expected_answer=s.expected_answer,
                             accepted_answers=s.accepted_answers,
                             expected_sources=s.expected_sources, tags=s.tags, answerable=s.answerable,
                             distractors=s.distractors, stale_answers=s.stale_answers) for s in source.samples}
    checks = [m for m in check_metrics(suite.spec.checks, suite.cases) if m.spec.name in requested]
    check_metric_names(names, list(cases.values()), lambda i: "--metrics", spec)
    context = BuildContext(suite.corpus, suite.directory, cache_dir, as_of=suite.as_of)
    the_judge, built, judge_info = build_scoring(spec, names, context, suite.spec.abstention, suite.as_of)
    scorers: list[Any] = [*built, *checks]
    computed = [*(m.spec for m in scorers), *OPERATIONAL]
    manifest = source.manifest.model_copy(update={
        "run_id": new_run_id(), "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "metrics": computed, "judge": judge_info, "source_run": source.run_id,
        # the gates on metrics the new run still has (checks included)
        "gates": [g for g in source.manifest.gates if g.metric in {spec.name for spec in computed}],
    })
    store = SampleStore(reports_dir / manifest.suite.name / manifest.run_id, manifest)
    passages = PassageTexts(context)
    params = {c.name: c.params for c in manifest.candidates}
    retrieves = {c.name: c.retrieves() for c in suite.candidates}
    reads_passages = any({"passages", "judge"} & set(m.spec.needs) for m in scorers)
    semaphore = asyncio.Semaphore(concurrency or suite.spec.concurrency)
    judge_missing = spec.endpoint.missing_key() if spec is not None and spec.endpoint else None

    async def one(sample: Sample) -> Sample:
        output = passages.fill(sample.output, params[sample.candidate]) if reads_passages else sample.output
        async with semaphore:
            scores = await score_output(scorers, cases[sample.case_id], output, judge_missing,
                                        retrieves.get(sample.candidate, True))
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
    from evalkit.run.store import write_usage

    write_usage(store.folder, {f"judge:{the_judge.name}": the_judge.stats.as_dict()} if the_judge.stats else {})
    run = Run(folder=store.folder, manifest=manifest, samples=list(rescored))
    return finish_folder(run, complete=source.summary is None or source.summary.status == "complete")
