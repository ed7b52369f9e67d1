"""`evalkit export`: a run's samples as a table for pandas or Hugging Face datasets.

One row per sample: the case, the candidate's answer, what it retrieved and cited, latency, cost,
and one column per metric (`score.<metric>`, None where it errored or did not apply, with the
reason in `error.<metric>` / `skipped.<metric>`). Written through `datasets`: parquet (one file,
readable by pandas) or a dataset folder (`datasets.load_from_disk`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from evalkit.core.run import Run

Format = Literal["parquet", "dataset"]


def sample_rows(run: Run) -> list[dict[str, Any]]:
    metrics = run.scored_metrics
    rows = []
    for sample in run.samples:
        output = sample.output
        row: dict[str, Any] = {
            "run_id": run.run_id, "candidate": sample.candidate, "case_id": sample.case_id,
            "question": sample.question, "expected_answer": sample.expected_answer,
            "accepted_answers": sample.accepted_answers, "expected_sources": sample.expected_sources,
            "tags": sample.tags, "answerable": sample.answerable, "answer": output.answer,
            "retrieved_ids": output.retrieved_ids, "citations": output.citations, "latency_s": output.latency_s,
            "queued_s": output.queued_s, "cost_usd": output.cost_usd,
            "prompt_tokens": output.usage.get("prompt_tokens"),
            "completion_tokens": output.usage.get("completion_tokens"),
            "error": output.error, "cached": sample.cached,
        }
        for name in metrics:
            score = sample.scores.get(name)
            row[f"score.{name}"] = score.value if score is not None else None
            row[f"error.{name}"] = score.error if score is not None else None
            row[f"skipped.{name}"] = score.skipped if score is not None else None
        rows.append(row)
    return rows


def export_run(run: Run, target: Path, fmt: Format) -> Path:
    """Write the run's samples to `target` (a .parquet file, or a dataset folder); returns the path."""
    from evalkit.core.offline import go_offline

    go_offline()
    import datasets

    datasets.disable_progress_bars()
    table = datasets.Dataset.from_list(sample_rows(run))
    if fmt == "parquet":
        target.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(target))
    else:
        table.save_to_disk(str(target))
    return target
