"""docs/suite-reference.md is generated from the models suites are validated with: it is current,
it names every key, and each section's example validates against its model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.config.reference import SECTIONS, render

ROOT = Path(__file__).resolve().parents[3]


def test_the_suite_reference_is_current() -> None:
    page = ROOT / "docs" / "suite-reference.md"
    assert page.read_text(encoding="utf-8") == render(), \
        "docs/suite-reference.md is stale: python -m evalkit.config.reference > docs/suite-reference.md"


@pytest.mark.parametrize(("title", "model", "example"), [(t, m, e) for t, m, _, e in SECTIONS],
                         ids=[t for t, _, _, _ in SECTIONS])
def test_each_example_validates_and_each_key_is_explained(title: str, model, example: str) -> None:
    from pydantic import BaseModel

    assert issubclass(model, BaseModel)
    data = yaml.safe_load(example)
    if title.startswith("Candidate") or title == "Chat generator":
        data = {**data, "examples": None, "n_examples": 0} if data.get("api") == "completion" else data
        data.pop("adapter", None)  # the loader reads the file and fills in its hash before validating
    model.model_validate(data)
    section = render().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    for name, field in model.model_fields.items():
        if not field.exclude:
            row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
            assert not row.endswith("|  |"), f"{title}: {name} has no meaning; comment its line"


def test_the_metrics_table_is_current() -> None:
    from evalkit.config.reference import metrics_page

    page = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert page == metrics_page(page), \
        "docs/metrics.md's table is stale: python -m evalkit.config.reference --metrics, between its markers"
    assert "| `recall@k` | higher | score | mean | expected_sources, retrieved ids |" in page
