"""Human labels for a run: a labelling sheet to fill in, and labels pulled from the MLflow UI.

Both write the labels file format of `evalkit.config.labels` (case_id, candidate, metric, label,
answer_key, note), so labels from either source go in a suite's `labels:` or `evalkit report
--labels` the same way.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Output, Sample
from evalkit.core.run import Run

SHEET_FIELDS = ["case_id", "candidate", "metric", "label", "note", "question", "answer", "passages", "answer_key"]
PASSAGE_CHARS = 600  # of each passage in the sheet: enough to judge support, short enough for a spreadsheet cell


def choose(run: Run, metric: str, n: int, stratify: bool, seed: int = 0) -> list[Sample]:
    """`n` samples with a value for `metric`, drawn at random (seeded); stratified: the same number
    from each candidate (as near as the candidates' sample counts allow)."""
    judged = {spec.name for spec in run.manifest.metrics if spec.judge}
    if metric in {spec.name for spec in run.manifest.metrics} and metric not in judged:
        raise EvalkitError(f"'{metric}' is not scored by a judge: labels correct a judge's metric (PPI)",
                           hint="judged metrics of the run: " + (", ".join(sorted(judged)) or "none"))
    scored = [s for s in sorted(run.samples, key=lambda s: (s.position, s.candidate))
              if (score := s.scores.get(metric)) is not None and score.value is not None]
    if not scored:
        known = sorted({name for s in run.samples for name in s.scores})
        raise EvalkitError(f"no sample of this run has a value for '{metric}'",
                           hint="metrics of the run: " + ", ".join(known))
    rng = random.Random(seed)
    if not stratify:
        return sorted(rng.sample(scored, min(n, len(scored))), key=lambda s: (s.position, s.candidate))
    groups: dict[str, list[Sample]] = {}
    for sample in scored:
        groups.setdefault(sample.candidate, []).append(sample)
    for group in groups.values():
        rng.shuffle(group)
    chosen: list[Sample] = []
    while len(chosen) < min(n, len(scored)):  # round robin over the candidates
        for group in groups.values():
            if group and len(chosen) < n:
                chosen.append(group.pop())
    return sorted(chosen, key=lambda s: (s.position, s.candidate))


def sheet_rows(samples: list[Sample], metric: str,
               with_texts: Callable[[Sample], Output] | None) -> list[dict[str, str]]:
    """One row per sample to label: what a reviewer needs to judge it, and the keys that attach the
    label to this answer. The judge's value is left out, so that it does not sway the reviewer."""
    rows = []
    for sample in samples:
        output = with_texts(sample) if with_texts is not None else sample.output
        passages = "\n\n".join(f"[{p.doc_id}] {p.text[:PASSAGE_CHARS]}" if p.text else f"[{p.doc_id}]"
                               for p in output.passages)
        rows.append({"case_id": sample.case_id, "candidate": sample.candidate, "metric": metric, "label": "",
                     "note": "", "question": sample.question, "answer": (output.error and f"error: {output.error}")
                     or output.answer, "passages": passages, "answer_key": sample.answer_key})
    return rows


def write_rows(rows: list[dict[str, Any]], path: Path, fields: list[str]) -> None:
    """CSV (for a spreadsheet) or JSONL, by the file's extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix.lower() == ".jsonl":
        path.write_text("".join(json.dumps({k: row.get(k, "") for k in fields}, ensure_ascii=False) + "\n"
                                for row in rows), encoding="utf-8")
    else:
        raise EvalkitError(f"cannot tell the format of '{path.name}'", hint="write a .csv or a .jsonl file")


def pull(mlflow_run_id: str, tracking_uri: str | None) -> tuple[list[dict[str, Any]], int]:
    """Human feedback that reviewers added to the traces of an MLflow run (a candidate's, or the
    parent run and so every candidate's) in the MLflow UI, as label rows; and
    how many traces were read. A feedback counts when its source is HUMAN and its name is a metric
    of the sample (its value: yes/no, true/false, or a number in [0, 1])."""
    from evalkit.config.labels import parse_label
    from evalkit.core.offline import import_mlflow
    from evalkit.runner.baselines import tracking_client

    client = tracking_client(tracking_uri)
    if client is None:
        raise EvalkitError("no MLflow store here", hint="pass --tracking-uri (or set MLFLOW_TRACKING_URI)")
    mlflow = import_mlflow()
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        run = mlflow.get_run(mlflow_run_id)
        experiment = run.info.experiment_id
        # the run of one candidate, or the parent run of `evalkit run`: then every candidate's
        children = mlflow.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{mlflow_run_id}'",
                                      output_format="list")
        traces = [trace for run_id in [mlflow_run_id, *(child.info.run_id for child in children)]
                  for trace in mlflow.search_traces(locations=[experiment], run_id=run_id,
                                                    return_type="list", include_spans=False)]
    except Exception as exc:  # MlflowException: no such run
        raise EvalkitError(f"cannot read the traces of MLflow run '{mlflow_run_id}'",
                           hint=str(exc).splitlines()[0]) from None
    rows = []
    for trace in traces:
        tags = trace.info.tags
        if "evalkit.case_id" not in tags or "evalkit.answer_key" not in tags:
            continue  # not a trace evalkit logged
        for assessment in trace.info.assessments or []:
            if assessment.feedback is None or assessment.source.source_type != "HUMAN":
                continue
            try:
                label = parse_label(assessment.feedback.value, f"trace {trace.info.trace_id}")
            except EvalkitError:
                continue  # feedback that is not a label (a comment, a category)
            if label is None:
                continue
            rows.append({"case_id": tags["evalkit.case_id"], "candidate": tags["evalkit.candidate"],
                         "metric": assessment.name, "label": label, "answer_key": tags["evalkit.answer_key"],
                         "note": assessment.rationale or f"MLflow: {assessment.source.source_id}"})
    return rows, len(traces)
