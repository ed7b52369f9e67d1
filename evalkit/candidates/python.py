"""The `python` candidate: call `module:function` with each question.

The function takes the question (str) and returns the answer (str), or a dict with `answer` and
optionally `sources` (ids or {id, text} objects), `contexts` and `citations`. It may be async. A
function that also names a `params` argument gets the candidate's `params:` from the suite (one
function, several candidates: top 3 against top 8), and one that names `case` gets the case as a
dict (id, tags, expected sources...), so a suite can compare settings without a function each.
A module next to the suite can be named directly: the suite's folder is on the import path
while the module is imported (and only then: the run leaves sys.path as it found it).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from evalkit.candidates.base import BuildContext, Candidate, CandidateConfig, Output, candidate_kinds
from evalkit.candidates.mapping import to_output
from evalkit.core.errors import EvalkitError

if TYPE_CHECKING:
    from evalkit.core.records import Case


_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@candidate_kinds.register("python")
class PythonConfig(CandidateConfig):
    kind: Literal["python"] = "python"
    function: str = Field(description="module:function")
    params: dict[str, Any] = Field(default_factory=dict, description="passed to a function that takes `params`")

    @field_validator("function")
    @classmethod
    def _module_colon_function(cls, value: str) -> str:
        if _FUNCTION.match(value):
            return value
        module, _, name = value.rpartition(".")
        meant = f"{module}:{name}" if module and _FUNCTION.match(f"{module}:{name}") else None
        raise ValueError(f"'{value}' is not module:function" + (f" (did you mean '{meant}'?)" if meant else ""))

    def build(self, context: BuildContext) -> Candidate:
        return PythonCandidate(self, context)

    def problem(self, suite_dir: Path) -> str | None:
        """The module must be findable (next to the suite or installed); it is not imported here, so
        validating a suite never runs the team's code."""
        module = self.function.split(":")[0]
        top = module.split(".")[0]
        if (suite_dir / f"{top}.py").is_file() or (suite_dir / top / "__init__.py").is_file():
            return None
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        return None if found is not None else f"python candidate '{self.name}': no module '{module}' to import"


class PythonCandidate:
    stats = None

    def __init__(self, config: PythonConfig, context: BuildContext):
        self.name, self.config, self.context = config.name, config, context
        self._function: Callable[..., Any] | None = None
        self._wants: set[str] = set()  # which of "params", "case" the function takes

    async def prepare(self, cases: list[Case]) -> None:
        module_name, function_name = self.config.function.split(":")
        folder = str(self.context.suite_dir)
        added = folder not in sys.path
        if added:
            sys.path.insert(0, folder)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise EvalkitError(f"candidate '{self.name}': cannot import '{module_name}' ({exc})",
                               hint="the module must be importable, or sit next to the suite file") from None
        finally:
            if added:
                sys.path.remove(folder)
        function = getattr(module, function_name, None)
        if not callable(function):
            raise EvalkitError(f"candidate '{self.name}': '{module_name}' has no function '{function_name}'")
        self._function = function
        try:
            named = set(inspect.signature(function).parameters)
        except (TypeError, ValueError):  # a builtin or C function without a signature: the question alone
            named = set()
        self._wants = named & {"params", "case"}
        if self.config.params and "params" not in self._wants:
            raise EvalkitError(f"candidate '{self.name}' has params:, but {self.config.function} takes no "
                               "'params' argument", hint="def answer(question, params): ...")

    async def answer(self, case: Case) -> Output:
        assert self._function is not None
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if "params" in self._wants:
            extra["params"] = dict(self.config.params)
        if "case" in self._wants:
            extra["case"] = case.model_dump(mode="json")
        try:
            if inspect.iscoroutinefunction(self._function):
                result = await self._function(case.question, **extra)
            else:
                result = await asyncio.to_thread(self._function, case.question, **extra)
        except Exception as exc:  # the team's code failed: say where, as a traceback's last line would
            return Output(error=f"{type(exc).__name__}: {exc} ({_where(exc)})", latency_s=time.perf_counter() - started)
        output = to_output(result, "answer", "sources", "id", "contexts", "text")
        if isinstance(result, dict) and isinstance(result.get("citations"), list):
            output.citations = [str(c) for c in result["citations"]]
        output.latency_s = time.perf_counter() - started
        return output


def _where(exc: BaseException) -> str:
    """Where in the team's code an exception was raised: the innermost frame, as file:line in function."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "no traceback"
    last = frames[-1]
    return f"raised at {last.filename}:{last.lineno} in {last.name}"
