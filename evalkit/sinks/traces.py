"""Each sample as an MLflow trace, where reviewers look: open a question in the MLflow UI and see
what was retrieved, what was answered, and why it was scored so.

One trace per case x candidate, linked to the candidate's MLflow run (`mlflow.sourceRun`):
- a root span with the question and the answer (and its citations);
- a RETRIEVER span whose outputs are the retrieved passages in MLflow's document format
  (page_content excerpt; doc_uri = the document id, chunk id, score, rank, and whether it is an
  expected source);
- an LLM span for the model call (the prompt as sent, the answer, token usage; no keys: stored
  samples are redacted);
- an EVALUATOR span per judged metric, with the judge's claim verdicts;
- expectations (expected answer, accepted answers, expected sources) and one feedback assessment
  per metric (value, or error; rationale; source = the metric, or the judge for judged metrics).

Only MLflow's public tracing and assessment APIs are used. Which samples: `all`, `failed` (the
default: a sample that errored, or whose value on a gated metric is on the failing side of the
gate's min or max, e.g. faithfulness 0.4 under a gate `min: 0.8`; the first 100 per candidate) or
`none`. Why failed by default: a trace costs ~65 ms on the sqlite store (benchmarks/bench_review.py),
so `all` on a 10,000-sample run adds 11 minutes, while the samples a reviewer opens are the ones
that fail a gate; the cap keeps a run's tracing under ~7 s per candidate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from evalkit.core.records import Output, Sample
    from evalkit.core.run import Run
    from evalkit.core.specs import GateSpec

TraceChoice = Literal["all", "failed", "none"]
EXCERPT = 1000  # characters of a passage kept in a trace
FAILED_CAP = 100  # failing samples traced per candidate by default (--mlflow-traces all: every sample)


def trace_choice(value: str, named: str = "traces") -> TraceChoice:
    """`value` as a TraceChoice; a one-line error naming the option otherwise."""
    from evalkit.core.errors import EvalkitError

    if value not in ("all", "failed", "none"):
        raise EvalkitError(f"{named} takes all, failed or none, not '{value}'")
    return value  # type: ignore[return-value]


def failed(sample: Sample, gates: Sequence[GateSpec]) -> bool:
    """Errored, or on the failing side of a threshold gate on its candidate (no_regression gates
    compare runs, not samples: they select nothing here)."""
    if sample.errored:
        return True
    for gate in gates:
        score = sample.scores.get(gate.metric)
        if score is None or score.value is None or gate.candidate not in (None, sample.candidate):
            continue
        if (gate.min is not None and score.value < gate.min) or (gate.max is not None and score.value > gate.max):
            return True
    return False


def chosen_samples(run: Run, candidate: str, choice: TraceChoice) -> list[Sample]:
    if choice == "none":
        return []
    samples = [s for s in run.samples if s.candidate == candidate]
    return samples if choice == "all" else [s for s in samples if failed(s, run.manifest.gates)]


@dataclass
class Traced:
    logged: int = 0
    left_out: int = 0  # failing samples beyond FAILED_CAP
    kept: int = 0  # samples whose identical trace an earlier run already logged

    def __add__(self, other: Traced) -> Traced:
        return Traced(self.logged + other.logged, self.left_out + other.left_out, self.kept + other.kept)


def log_traces(mlflow: Any, run: Run, candidate: str, mlflow_run_id: str, choice: TraceChoice,
               with_texts: Callable[[Sample], Output] | None = None) -> Traced:
    """Log the chosen samples of one candidate as traces of the active experiment. A sample whose
    trace would repeat one already in the experiment (same case, answer, passages, scores and
    judges: a warm re-run replays them all) is not logged again; `kept` counts those."""
    samples = chosen_samples(run, candidate, choice)
    left_out = max(0, len(samples) - FAILED_CAP) if choice == "failed" else 0
    if left_out:
        samples = samples[:FAILED_CAP]
    if not samples:
        return Traced(0, left_out)
    started = _start_ns(run.manifest.started_at)
    judges = {spec.name: run.manifest.judge_label(spec) for spec in run.manifest.metrics if spec.judge}
    known = _logged_keys(mlflow, candidate)
    keyed = [(sample, key) for sample in samples if (key := trace_key(sample, judges)) not in known]
    traces = []
    for sample, key in keyed:
        output = with_texts(sample) if with_texts is not None else sample.output
        traces.append((sample, _trace(mlflow, sample, output, candidate, mlflow_run_id, run.run_id, started,
                                      judges, key)))
    if traces:
        mlflow.flush_trace_async_logging()  # the traces must exist before assessments name them
    for sample, trace_id in traces:
        _assess(mlflow, trace_id, sample, judges)
    return Traced(len(traces), left_out, len(samples) - len(traces))


def trace_key(sample: Sample, judges: dict[str, str | None]) -> str:
    """What a trace shows of a sample, hashed: equal keys, equal traces (up to run ids and times)."""
    from evalkit.core.cache import content_key

    return content_key("trace-v2", judges, sample.model_dump(mode="json", exclude={"score_s", "cached", "position",
                                                                                   "expect"}))[:32]


def _logged_keys(mlflow: Any, candidate: str) -> set[str]:
    """The trace keys of this candidate's traces already in the active experiment."""
    experiment = mlflow.active_run().info.experiment_id
    quoted = candidate.replace("\\", "\\\\").replace("'", "\\'")
    found = mlflow.search_traces(locations=[experiment], filter_string=f"tags.`evalkit.candidate` = '{quoted}'",
                                 return_type="list", include_spans=False)
    return {key for trace in found if (key := trace.info.tags.get("evalkit.trace_key"))}


def _start_ns(started_at: str) -> int:
    try:
        return int(dt.datetime.fromisoformat(started_at).timestamp() * 1e9)
    except ValueError:
        return int(dt.datetime.now(dt.UTC).timestamp() * 1e9)


def _trace(mlflow: Any, sample: Sample, output: Output, candidate: str, mlflow_run_id: str, run_id: str,
           start: int, judges: dict[str, str | None], key: str) -> str:
    from mlflow.entities import SpanType

    end = start + int(max(output.latency_s, 1e-6) * 1e9)
    # the question and the answer as plain text, so the trace list reads as text, not JSON; a session is
    # one candidate's traces in one run, so the list's Session column starts with the candidate
    root = mlflow.start_span_no_context(
        name=f"{candidate} · {sample.case_id}", span_type=SpanType.AGENT, inputs=sample.question,
        tags={"evalkit.candidate": candidate, "evalkit.case_id": sample.case_id, "evalkit.run_id": run_id,
              "evalkit.answer_key": sample.answer_key,  # human feedback on it -> labels (evalkit labels pull)
              "evalkit.trace_key": key},
        metadata={"mlflow.sourceRun": mlflow_run_id, "mlflow.trace.session": f"{candidate} · {run_id}"},
        start_time_ns=start,
        attributes={"evalkit.cached": str(sample.cached), "evalkit.queued_s": f"{output.queued_s:.3f}",
                    "evalkit.citations": output.citations})
    if output.passages:
        expected = set(sample.expected_sources)
        retriever = mlflow.start_span_no_context("retrieve", span_type=SpanType.RETRIEVER, parent_span=root,
                                                 inputs={"query": output.query or sample.question},
                                                 start_time_ns=start)
        retriever.end(outputs=[{"page_content": p.text[:EXCERPT], "id": p.node_id or p.doc_id,
                                "metadata": {"doc_uri": p.doc_id, "chunk_id": p.node_id, "score": p.score,
                                             "rank": p.rank, "expected_source": p.doc_id in expected}}
                               for p in output.passages], end_time_ns=start)
    if output.prompt is not None or output.usage:
        llm = mlflow.start_span_no_context("generate", span_type=SpanType.LLM, parent_span=root,
                                           inputs={"prompt": output.prompt}, start_time_ns=start)
        llm.set_attributes({"usage.prompt_tokens": output.usage.get("prompt_tokens", 0),
                            "usage.completion_tokens": output.usage.get("completion_tokens", 0),
                            "latency_s": round(output.latency_s, 6), "cost_usd": output.cost_usd})
        llm.end(outputs={"answer": output.answer}, end_time_ns=end)
    for name, judge in judges.items():
        score = sample.scores.get(name)
        if score is None:
            continue
        span = mlflow.start_span_no_context(f"judge · {name}", span_type=SpanType.EVALUATOR, parent_span=root,
                                            inputs={"answer": output.answer, "judge": judge}, start_time_ns=end)
        span.end(outputs={"value": score.value, "claims": score.details.get("claims", []),
                          "error": score.error, "skipped": score.skipped}, end_time_ns=end)
    if output.error:  # the list's State column: this sample's candidate failed
        root.set_status("ERROR")
    root.end(outputs=output.error or output.answer, end_time_ns=end)
    return str(root.trace_id)


def _assess(mlflow: Any, trace_id: str, sample: Sample, judges: dict[str, str | None]) -> None:
    from mlflow.entities import AssessmentError, AssessmentSource

    human = AssessmentSource(source_type="HUMAN", source_id="suite")
    if sample.expected_answer or sample.accepted_answers:
        mlflow.log_expectation(trace_id=trace_id, name="expected_answer", source=human,
                               value=[a for a in [sample.expected_answer, *sample.accepted_answers] if a])
    if sample.expected_sources:
        mlflow.log_expectation(trace_id=trace_id, name="expected_sources", value=sample.expected_sources, source=human)
    if not sample.answerable:
        mlflow.log_expectation(trace_id=trace_id, name="answerable", value=False, source=human)
    for name, score in sample.scores.items():
        judge = judges.get(name)
        source = (AssessmentSource(source_type="LLM_JUDGE", source_id=judge) if judge
                  else AssessmentSource(source_type="CODE", source_id=f"evalkit:{name}"))
        if score.skipped:  # said in words, not a null the UI marks as a problem (the summary does not count it)
            mlflow.log_feedback(trace_id=trace_id, name=name, value="not applicable", source=source,
                                rationale=score.skipped)
            continue
        error = AssessmentError(error_code="EVALKIT_ERROR", error_message=score.error) if score.error else None
        value = round(score.value, 4) if isinstance(score.value, float) else score.value  # 0.0909, not 0.0909090909
        mlflow.log_feedback(trace_id=trace_id, name=name, value=value, source=source, error=error,
                            rationale=_rationale(score.details))


def _rationale(details: dict[str, Any]) -> str | None:
    """Why a judged score is what it is: each claim's verdict and its reason or evidence."""
    claims = details.get("claims")
    if not claims:
        return None
    lines = []
    for claim in claims:
        mark = "supported" if claim.get("supported") else "NOT supported"
        why = claim.get("evidence") if claim.get("supported") else claim.get("reason")
        lines.append(f"- {mark}: {claim.get('claim')}" + (f" ({claim.get('doc_id')}: {why})" if why else ""))
    return "\n".join(lines)[:4000]
