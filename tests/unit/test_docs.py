"""The examples in README.md and docs/ are what evalkit reads: every YAML block parses, every whole
suite in them validates, every Python block runs (a page's blocks in order, in one namespace, from
a copy of the repository's suites; a block opened with ```python fragment is left out), and the
README's quickstart is the shipped quickstart suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
PYTHON = re.compile(r"^```python\n(.*?)^```", re.S | re.M)  # "```python fragment" does not match


def yaml_blocks() -> list[tuple[str, str]]:
    return [(f"{page.relative_to(ROOT)}#{i}", block) for page in PAGES
            for i, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")))]


@pytest.mark.parametrize(("where", "block"), yaml_blocks(), ids=[w for w, _ in yaml_blocks()])
def test_every_yaml_block_parses_and_whole_suites_validate(where: str, block: str) -> None:
    from evalkit.config.suite import SuiteSpec

    data = yaml.safe_load(block)
    if isinstance(data, dict) and {"name", "candidates", "metrics"} <= set(data):
        for check in data.get("checks", []):  # the loader reads a schema file's JSON in its place
            if isinstance(check.get("json_schema"), str):
                check["json_schema"] = {"type": "object"}
        SuiteSpec.model_validate(data)  # a whole suite: every key and value as the loader checks it


def test_the_readme_quickstart_is_the_shipped_suite_and_runs_as_shown() -> None:
    from evalkit.config.suite import load_suite

    suite = ROOT / "suites" / "examples" / "quickstart" / "suite.yaml"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert suite.read_text(encoding="utf-8") in [block for block in BLOCK.findall(readme)]
    loaded = load_suite(suite)
    assert [c.id for c in loaded.cases] == ["refund-window", "express", "password", "crypto"]


PYTHON_PAGES = [page for page in PAGES if PYTHON.search(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[p.name for p in PYTHON_PAGES])
def test_every_python_block_runs(page: Path, tmp_path: Path) -> None:
    """A page's blocks in order, as one script in a fresh interpreter (a block may register a metric,
    which must not leak into other tests), from a copy of the repository's example suites."""
    import os
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "suites" / "examples", tmp_path / "suites" / "examples")
    script = tmp_path / f"{page.stem}.py"
    script.write_text("\n\n".join(PYTHON.findall(page.read_text(encoding="utf-8"))), encoding="utf-8")
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def test_there_are_examples_to_check() -> None:
    assert len(yaml_blocks()) >= 5 and PYTHON_PAGES
