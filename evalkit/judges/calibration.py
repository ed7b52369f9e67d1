"""Agreement of a judge with human labels: `evalkit calibrate LABELS.jsonl`.

Each labelled row has question, contexts, answer and label (1 = supported by the contexts). The
judge's verdict on a row is "supported" when it supports every claim of the answer; its graded
score (for AUROC and the threshold search) is the support of its weakest claim, a claim that
failed a number, name or negation check counting 0. Each agreement figure carries a bootstrap 95% CI.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.analysis.agreement import agreement, confusion, macro_f1
from evalkit.analysis.stats import SEED
from evalkit.core.errors import EvalkitError
from evalkit.core.judge import Judge
from evalkit.core.readers import read_records
from evalkit.judges.spec import shipped_file

if TYPE_CHECKING:
    from evalkit.core.records import Passage

RESAMPLES = 1000


@dataclass
class LabelledRow:
    answer: str
    contexts: list[str]
    label: int
    question: str = ""
    source: str = ""  # where the row comes from, for figures by source (AttributionBench's `source`)

    def passages(self) -> list[Passage]:
        from evalkit.core.records import Passage

        return [Passage(doc_id=f"context-{i}", text=text, rank=i + 1) for i, text in enumerate(self.contexts)]


def load_labels(path: Path) -> list[LabelledRow]:
    rows = []
    for number, row in read_records(path):
        where = f"{path}:{number}"
        for field in ("answer", "contexts", "label"):
            if field not in row:
                raise EvalkitError(f"missing field '{field}'", where=where,
                                   hint="rows need answer, contexts (a list of passages) and label (0 or 1)")
        if row["label"] not in (0, 1, True, False):
            raise EvalkitError(f"label must be 0 or 1, got {row['label']!r}", where=where)
        contexts = row["contexts"]
        if isinstance(contexts, str) or not isinstance(contexts, list):
            raise EvalkitError("field 'contexts' must be a list of passages", where=where)
        rows.append(LabelledRow(str(row["answer"]), [str(c) for c in contexts], int(row["label"]),
                                str(row.get("question") or ""), str(row.get("source") or "")))
    if len({r.label for r in rows}) < 2:
        raise EvalkitError("calibration needs rows of both labels", where=str(path))
    return rows


def with_ci(labels: Any, predicted: Any, scores: Any) -> dict[str, dict[str, float]]:
    import numpy as np

    y, p, s = (np.asarray(a) for a in (labels, predicted, scores))
    point = agreement(y, p, s)
    rng = np.random.default_rng(SEED)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(RESAMPLES):
        index = rng.integers(0, len(y), len(y))
        if len(set(y[index].tolist())) < 2:
            continue
        for key, value in agreement(y[index], p[index], s[index]).items():
            draws[key].append(value)
    return {k: {"value": v, "ci_low": float(np.quantile(draws[k], 0.025)),
                "ci_high": float(np.quantile(draws[k], 0.975))} for k, v in point.items()}


def best_threshold(labels: Any, scores: Any) -> dict[str, float]:
    """The threshold on the graded score that maximises macro-F1 on these rows (in-sample, optimistic)."""
    import numpy as np

    y, s = np.asarray(labels), np.asarray(scores, dtype=float)
    best = {"threshold": 0.0, "macro_f1": -1.0}
    for threshold in np.unique(s):
        value = macro_f1(*confusion(y, s >= threshold))  # no AUROC per threshold
        if value > best["macro_f1"]:
            best = {"threshold": float(threshold), "macro_f1": value}
    return best


def graded(verdict: Any) -> float:
    """The support of the answer's weakest claim, a claim that failed a number, name or negation
    check counting 0; a model judge without per-claim verdicts is graded by its score."""
    claims = verdict.claims
    if not claims:
        return float(verdict.score) if verdict.score == verdict.score else 0.0
    return min(0.0 if c.failed_check else c.support for c in claims)


async def judge_rows(judge: Judge, rows: list[LabelledRow]) -> list[Any]:
    async def one(row: LabelledRow) -> Any:
        return await judge.faithfulness(row.question or "(no question)", row.answer, row.passages())

    try:
        return list(await asyncio.gather(*(one(row) for row in rows)))
    finally:
        if judge.stats is not None:  # a model judge: its connections belong to this event loop
            from evalkit.models.llm import close_connections

            await close_connections()


def rows_digest(rows: list[LabelledRow]) -> str:
    """Identifies a set of labelled rows, so a judge's training data is recognised wherever it lies."""
    from evalkit.core.cache import content_key

    return content_key("labelled-rows", [[r.question, r.answer, r.contexts, r.label] for r in rows])[:16]


def judged_figures(judge: str, data_name: str, rows: list[LabelledRow], verdicts: list[Any],
                   seconds: float | None) -> dict[str, Any]:
    """The calibration record of a judge's verdicts on labelled rows."""
    # "supported" as the judge is configured: every claim supported, i.e. a score of 1 (NaN is not)
    predicted = [int(v.score == 1.0) for v in verdicts]
    scores = [graded(v) for v in verdicts]
    labels = [r.label for r in rows]
    record: dict[str, Any] = {
        "judge": judge,
        "data": data_name,
        "n": len(rows),
        "n_supported": sum(labels),
        "data_digest": rows_digest(rows),
        "seconds": None if seconds is None else round(seconds, 3),
        "configured": {"rule": "supported when every claim is supported", **with_ci(labels, predicted, scores)},
        "best_threshold": best_threshold(labels, scores),
    }
    sources = sorted({r.source for r in rows})
    if len(sources) > 1:  # where the judge is weak: figures for each source of the labelled rows
        by_source: dict[str, dict[str, float]] = record.setdefault("by_source", {})
        for source in sources:
            mine = [i for i, r in enumerate(rows) if r.source == source]
            if len({labels[i] for i in mine}) < 2:
                continue  # agreement needs both labels
            figures = agreement(*([values[i] for i in mine] for values in (labels, predicted, scores)))
            by_source[source] = {"n": len(mine), "macro_f1": figures["macro_f1"], "auroc": figures["auroc"]}
    return record


def calibrate(path: Path, judge: Judge, data_name: str | None = None) -> dict[str, Any]:
    """Run `judge` over the labelled rows and measure its agreement with the labels."""
    rows = load_labels(path)
    started = time.perf_counter()
    verdicts = asyncio.run(judge_rows(judge, rows))
    return judged_figures(judge.name, data_name or path.name, rows, verdicts, time.perf_counter() - started)


def on_record(judge: str) -> dict[str, Any] | None:
    """The calibration shipped with evalkit for a judge, or None when it has none."""
    path = shipped_file(f"{judge}.json")
    if not path.is_file():
        return None
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


WEAK_AUROC = 0.70  # below this on an answer shape, reports call the judge weak there
SHAPES = {"short": "short answers", "sentence": "sentences"}
VIEWS = {"squad2": "SQuAD 2.0", "halueval-qa, length-matched": "HaluEval QA", "attributionbench": "AttributionBench"}


def agreement_note(judge: str | None) -> str | None:
    """One line for reports: the judge and its measured agreement, or that it is uncalibrated. A
    judge measured on the judge benchmark gives its held-out AUROC for each answer shape, and says
    "weak" where it is below WEAK_AUROC."""
    if judge is None:
        return None
    record = on_record(judge)
    if record is None:
        return f"{judge} · uncalibrated"
    if "by_shape" in record:
        parts = []
        for shape, views in record["by_shape"].items():
            figures = ", ".join(f"{VIEWS.get(view, view)} {f['auroc']:.2f}{_weak(f['auroc'])}"
                                for view, f in views.items())
            parts.append(f"{SHAPES.get(shape, shape)}: {figures}")
        return f"{judge} · held-out AUROC by answer shape: " + "; ".join(parts)
    figures = record["configured"]
    return (f"{judge} · macro-F1 {figures['macro_f1']['value']:.2f}, AUROC {figures['auroc']['value']:.2f} "
            f"vs human labels ({record['data']}, n={record['n']})")


def _weak(auroc: float) -> str:
    return " (weak)" if auroc < WEAK_AUROC else ""
