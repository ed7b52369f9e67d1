"""Fixtures of the local-model tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One evalkit cache for the session: the model file is assembled into it once."""
    return tmp_path_factory.mktemp("cache")
