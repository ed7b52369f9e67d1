"""Which price a model's calls are costed at."""

from __future__ import annotations

import pytest

from evalkit.models.endpoints import EndpointSpec, Price


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-4o-mini", (0.15, 0.60)),
    ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),  # a dated snapshot is priced as its model
    ("ft:gpt-4o-mini-2024-07-18:acme::scifact01", (0.30, 1.20)),  # a fine-tune by its (dated) base
    ("ft:gpt-4.1-mini-2025-04-14:acme:support:B2c9x", (0.80, 3.20)),
    ("gpt-4o-2024-05-13", (5.00, 15.00)),  # a snapshot the table lists keeps its own price
    ("llama-3.1-8b-instruct", None),  # unknown: reported as unpriced, never as free
])
def test_price_of_a_model(model: str, expected: tuple[float, float] | None) -> None:
    assert EndpointSpec(model=model).prices() == expected


def test_suite_price_overrides_the_table() -> None:
    spec = EndpointSpec(model="ft:gpt-4o-mini-2024-07-18:acme::x", price=Price(input=1.0, output=2.0))
    assert spec.prices() == (1.0, 2.0)
