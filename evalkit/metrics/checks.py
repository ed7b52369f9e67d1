"""Format and style checks on answers: each check is a pass/fail metric `check_<name>` (1 or 0) that
gates can use; a failed check keeps why it failed.

Rules: `json_schema` (the answer parses as JSON and is valid against the schema, checked with the
jsonschema library), `regex` (found in the answer), `max_words`, `max_chars`, `contains` /
`not_contains` (case-insensitive; `match: any | all` for contains), `starts_with`. A check listed in
a case applies to that case only (n/a elsewhere).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from evalkit.core.records import Case, Output, Score
from evalkit.core.specs import CheckSpec, MetricSpec
from evalkit.core.text import strip_citations, words


def failures(check: CheckSpec, answer: str) -> list[str]:
    """Why the answer fails the check; [] when it passes."""
    found: list[str] = []
    if check.json_schema is not None:
        found += _json_failures(check.json_schema, answer)
    if check.regex is not None and not re.search(check.regex, answer):
        found.append(f"does not match /{check.regex}/")
    if check.max_words is not None and (n := len(words(strip_citations(answer)))) > check.max_words:
        found.append(f"{n} words, more than {check.max_words}")
    if check.max_chars is not None and len(answer) > check.max_chars:
        found.append(f"{len(answer)} characters, more than {check.max_chars}")
    lowered = answer.lower()
    if check.contains:
        present = [text for text in check.contains if text.lower() in lowered]
        if not present or (check.match == "all" and len(present) < len(check.contains)):
            missing = [text for text in check.contains if text not in present]
            found.append(f"does not contain {'any of ' if check.match == 'any' else ''}{missing}")
    if check.not_contains:
        present = [text for text in check.not_contains if text.lower() in lowered]
        if present:
            found.append(f"contains {present}")
    if check.starts_with is not None and not answer.lstrip().startswith(check.starts_with):
        found.append(f"does not start with {check.starts_with!r}")
    return found


def _json_failures(schema: dict[str, Any], answer: str) -> list[str]:
    from jsonschema import validators

    try:
        value = json.loads(answer)
    except json.JSONDecodeError as exc:
        return [f"not JSON ({exc.msg} at column {exc.colno})"]
    validator = validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or 'the answer'}: {e.message}" for e in errors[:3]]


def check_schema(schema: dict[str, Any]) -> str | None:
    """Why a JSON Schema is not a valid schema, or None."""
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        return exc.message
    return None


@dataclass
class CheckMetric:
    """One named check, for the suite's cases (`check` set) or for the cases that list it."""

    spec: MetricSpec
    check: CheckSpec | None  # the suite-wide check; None: only cases that list one by this name

    async def score(self, case: Case, output: Output) -> Score:
        check = next((c for c in case.checks if c.metric == self.spec.name), self.check)
        if check is None:
            return Score(skipped="the case has no such check")
        failed = failures(check, output.answer)
        return Score(value=float(not failed), details={"failed": failed} if failed else {})


def check_metrics(suite_checks: list[CheckSpec], cases: list[Case]) -> list[CheckMetric]:
    """A metric per check name: the suite's checks, then those only cases list, in order."""
    metrics: dict[str, CheckMetric] = {}
    for check in suite_checks:
        metrics[check.metric] = CheckMetric(_spec(check), check)
    for case in cases:
        for check in case.checks:
            metrics.setdefault(check.metric, CheckMetric(_spec(check), None))
    return list(metrics.values())


def _spec(check: CheckSpec) -> MetricSpec:
    # the rules are parameters: a changed rule is another metric (and misses its cached scores)
    return MetricSpec(name=check.metric, base="check", params=check.model_dump(mode="json", exclude_none=True),
                      unit="pass", needs=("answer",))
