"""`import evalkit` and the CLI's start-up import none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mlflow", "torch", "llama_index", "ragas", "sentence_transformers", "pandas", "openai", "httpx2", "aiohttp",
         "pydantic")  # pydantic: evalkit's records are pydantic models, loaded only by the commands that need them


def test_import_is_light() -> None:
    code = ("import sys, evalkit, evalkit.cli; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_pipeline_imports_no_model_library() -> None:
    code = ("import sys, evalkit.config.suite, evalkit.runner.pipeline, evalkit.sinks.base; "
            f"print([m for m in {HEAVY[:-1]!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_help_works() -> None:
    result = subprocess.run([sys.executable, "-m", "evalkit", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "run" in result.stdout and "validate" in result.stdout


def test_usage_error_is_one_message_and_exit_2() -> None:
    result = subprocess.run([sys.executable, "-m", "evalkit", "run"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Missing" in result.stderr and "Traceback" not in result.stderr
