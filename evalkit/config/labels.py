"""Human labels of a run's samples (`labels: PATH` in a suite, `evalkit report --labels PATH`).

A labels file is JSONL or CSV, one row per labelled sample and metric: `case_id`, `candidate`,
`metric`, `label` (1/0, yes/no, true/false, or a value in [0, 1]), `answer_key` (the labelled
answer's key, written by `evalkit labels sample`), optional `note`. Rows whose label is blank are
skipped: a labelling sheet can be read half filled in.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.core.readers import read_records
from evalkit.core.records import Label

WORDS = {"1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0, "y": 1.0, "n": 0.0}
FIELDS = ("case_id", "candidate", "metric", "label", "answer_key")


def parse_label(value: object, where: str) -> float | None:
    """A label as a number in [0, 1]; None when blank (not labelled yet)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    if text in WORDS:
        return WORDS[text]
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        raise EvalkitError(f"field 'label' must be 1/0, yes/no or a value in [0, 1], got {value!r}", where=where,
                           hint="1 = the answer is right on this metric (e.g. supported by its passages), 0 = not")
    return number


def read_labels(path: Path) -> dict[tuple[str, str, str], dict[str, Label]]:
    """The labels of a file, by (case id, candidate, metric) and then answer key."""
    labels: dict[tuple[str, str, str], dict[str, Label]] = {}
    for number, row in read_records(path):
        where = f"{path}:{number}"
        missing = [name for name in FIELDS if name not in row]
        if missing:
            raise EvalkitError(f"missing field '{missing[0]}'", where=where,
                               hint="label rows need " + ", ".join(FIELDS) + " (evalkit labels sample writes them)")
        value = parse_label(row["label"], where)
        if value is None:
            continue
        label = Label(case_id=row["case_id"], candidate=str(row["candidate"]), metric=str(row["metric"]),
                      label=value, answer_key=str(row["answer_key"]), note=str(row.get("note") or ""))
        labels.setdefault((label.case_id, label.candidate, label.metric), {})[label.answer_key] = label
    return labels
