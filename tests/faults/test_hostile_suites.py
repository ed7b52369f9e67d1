"""Hostile suite files end in exit 2 with one line, quickly: a suite is untrusted input in CI."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.config.suite import load_suite
from evalkit.core.errors import EvalkitError

HERE = Path(__file__).parent
HOSTILE = sorted(HERE.glob("*.yaml"))


@pytest.fixture(scope="module")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.yaml"
    path.write_text("name: huge\ncandidates: []\nmetrics: [recall@1]\ncases:\n"
                    + "".join(f"  - {{id: q{i}, question: 'Question number {i}?'}}\n" for i in range(150_000)))
    return path


def hostile_files(huge: Path) -> list[Path]:
    return [*HOSTILE, huge]


def test_the_corpus_is_there() -> None:
    assert len(HOSTILE) == 14  # and not collected as suites (tests/conftest.py)


@pytest.mark.parametrize("name", [p.name for p in HOSTILE] + ["huge.yaml"])
def test_refused_with_one_line_in_under_a_second(name: str, huge: Path) -> None:
    path = huge if name == "huge.yaml" else HERE / name
    started = time.perf_counter()
    with pytest.raises(EvalkitError) as info:
        load_suite(path)
    assert time.perf_counter() - started < 1.0
    message = str(info.value)
    assert "\n" not in message and str(path) in message


@pytest.mark.parametrize("name", ["alias_bomb.yaml", "python_tag.yaml", "deep_nesting.yaml", "utf16.yaml",
                                  "binary.yaml", "recursive_alias.yaml", "recursive_mapping.yaml",
                                  "control_char.yaml", "nul_char.yaml"])
def test_cli_exits_2_with_one_line(name: str) -> None:
    result = subprocess.run([sys.executable, "-m", "evalkit", "validate", str(HERE / name)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr


def test_each_message_says_what_is_wrong() -> None:
    expected = {
        "alias_bomb.yaml": "expands to more than 1,000,000 values through YAML aliases",
        "alias_mapping_bomb.yaml": "expands to more than 1,000,000 values through YAML aliases",
        "python_tag.yaml": "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply",
        "deep_nesting.yaml": "nested too deeply",
        "utf16.yaml": "not UTF-8 text",
        "latin1.yaml": "not UTF-8 text (byte 0xe9)",
        "not_a_mapping.yaml": "a suite must be a YAML mapping",
        "empty.yaml": "a suite must be a YAML mapping",
        "binary.yaml": "not UTF-8 text",
        "duplicate_aliased_keys.yaml": "duplicate key 'kind'",
        "recursive_alias.yaml": "recursive alias",
        "recursive_mapping.yaml": "recursive alias",
        "control_char.yaml": "control_char.yaml:2: control character 0x1b is not allowed in YAML",
        "nul_char.yaml": "nul_char.yaml:2: control character 0x00 is not allowed in YAML",
    }
    for name, text in expected.items():
        with pytest.raises(EvalkitError) as info:
            load_suite(HERE / name)
        assert text in str(info.value), (name, str(info.value))


def test_the_pytest_plugin_does_not_hang_on_a_bomb(tmp_path: Path) -> None:
    """Collection reads a YAML file without expanding it; the bomb is reported as a collection error."""
    (tmp_path / "bomb.yaml").write_text((HERE / "alias_bomb.yaml").read_text())
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert "expands to more than 1,000,000 values" in result.stdout, result.stdout
    assert result.returncode != 0
