"""evalkit: evaluation harness for grounded question answering.

    import evalkit

    result = evalkit.run("suites/examples/quickstart/suite.yaml")
    print(result.metrics())
    result.samples  # a pandas DataFrame, one row per case and candidate

The names below are evalkit.api's (docs/python-api.md; their docstrings say more). Importing the
package is cheap on purpose: they and the heavy libraries behind them (mlflow, torch,
llama_index, ragas) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.core.version import __version__

__all__ = ["EvalkitError", "Result", "__version__", "compare", "load_suite", "publish", "read_run", "run",
           "run_async", "run_options"]
_API = frozenset(__all__) - {"__version__"}  # evalkit.api's, imported on first use

if TYPE_CHECKING:
    from evalkit.api import EvalkitError, Result, compare, load_suite, publish, read_run, run, run_async, run_options


def __getattr__(name: str) -> Any:
    if name in _API:
        from evalkit import api

        return getattr(api, name)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
