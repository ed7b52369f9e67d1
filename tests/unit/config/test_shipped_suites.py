"""Every suite shipped in suites/ validates (the demo and the examples a user copies from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config.suite import load_suite

SUITES = sorted((Path(__file__).resolve().parents[3] / "suites").rglob("*.yaml"))


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_shipped_suite_loads(path: Path) -> None:
    suite = load_suite(path)
    assert suite.cases and suite.candidates
