"""pytest plugin: `pytest suites/` collects each evalkit suite and makes each gate a test item.

Registered through the `pytest11` entry point. A YAML file is a suite when its top level has
`candidates` and `metrics`. The suite runs once, on its first item; each gate and candidate it
applies to is one item, so `-k`, `--junitxml` and pytest's reporting work as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalkit")
    group.addoption("--evalkit-reports", default="reports", help="where evalkit writes run folders")
    group.addoption("--evalkit-mlflow", action="store_true", help="also log evalkit runs to MLflow")
    group.addoption("--evalkit-baseline", default=None, help="baseline for no_regression gates")


def _is_suite(path: Path) -> bool:
    """A top-level `candidates:` and `metrics:` key, found by reading lines, not by parsing: a broken or
    hostile suite is then collected and reported (one line), never parsed here without limits."""
    import re

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    keys = set(re.findall(r"^(candidates|metrics)\s*:", text, re.MULTILINE))
    return keys == {"candidates", "metrics"}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and _is_suite(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class EvalkitFailure(Exception):
    """A gate failed, or the suite could not run."""


class SuiteFile(pytest.File):
    _outcome: Any = None

    def collect(self) -> Iterator[pytest.Item]:
        from evalkit.analysis.gates import applies_to, threshold_rule
        from evalkit.config.suite import load_suite
        from evalkit.core.errors import EvalkitError

        try:
            self.suite = load_suite(self.path)
        except EvalkitError as exc:
            raise self.CollectError(str(exc)) from None
        names = [c.name for c in self.suite.candidates]
        for index, gate in enumerate(self.suite.spec.gates):
            for candidate, kind in applies_to(gate, names):
                rule = threshold_rule(gate) if kind == "threshold" else "no_regression"
                yield GateItem.from_parent(self, name=f"{candidate}: {gate.metric} {rule}",
                                           gate=index, kind=kind, candidate=candidate)
        for case in self.suite.cases:  # a case's expectations: an item each, per candidate
            for expectation in case.expect:
                for candidate in names:
                    yield GateItem.from_parent(
                        self, name=f"{candidate}: case {case.id}: {expectation.metric} {expectation.rule}", gate=-1,
                        kind="case", candidate=candidate, case_id=case.id, metric=expectation.metric)

    def outcome(self) -> Any:
        """The finished run: the suite runs once, on its first item, through evalkit.run, so its
        folder, HTML report and MLflow run are the CLI's."""
        if self._outcome is None:
            from evalkit.api import run

            config = self.config
            self._outcome = run(self.suite, reports_dir=config.getoption("--evalkit-reports"),
                                baseline=config.getoption("--evalkit-baseline"),
                                mlflow=config.getoption("--evalkit-mlflow")).run
        return self._outcome


class GateItem(pytest.Item):
    def __init__(self, *, gate: int, kind: str, candidate: str, case_id: str | None = None, metric: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.gate, self.kind, self.candidate, self.case_id, self.metric = gate, kind, candidate, case_id, metric

    def runtest(self) -> None:
        assert isinstance(self.parent, SuiteFile)
        run = self.parent.outcome()
        summary = run.summary
        def key(v: Any) -> tuple[Any, ...]:
            return v.gate, v.kind, v.candidate, v.case_id, v.metric if v.kind == "case" else None

        verdict = next((v for v in summary.gates if key(v) == key(self)), None)
        if verdict is None:
            raise EvalkitFailure(f"{self.candidate} has no sample for case {self.case_id} (run {run.folder})")
        if summary.error_rate > summary.max_error_rate:
            raise EvalkitFailure(f"run incomplete: {summary.error_rate:.1%} of samples errored "
                                 f"(limit {summary.max_error_rate:.1%}); results in {run.folder}")
        if not verdict.passed:
            raise EvalkitFailure(f"{verdict.message} (run {run.folder})")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, EvalkitFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}::{self.name}"
