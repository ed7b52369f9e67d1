"""Read rows from jsonl, jsonl.gz, csv and parquet files, each tagged with its line number.

Every data file evalkit reads (corpora, case files, recorded outputs) goes through here, so a
corrupt row is always reported as `file:line` with the same wording.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".jsonl.gz", "jsonl"), (".json", "jsonl"),
                        (".ndjson", "jsonl"), (".csv", "csv"), (".csv.gz", "csv"),
                        (".parquet", "parquet")):
        if name.endswith(suffix):
            return fmt
    raise EvalkitError(
        f"cannot tell the format of '{path.name}'",
        where=str(path),
        hint="use a .jsonl, .jsonl.gz, .csv or .parquet file",
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a text file, plain or gzipped, decoded line by line, so that bytes
    that are not UTF-8 are reported at their line."""
    opened = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
    with opened as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise EvalkitError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                                   where=f"{path}:{number}", hint="save the file as UTF-8") from None


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) pairs; line numbers are 1-based (row numbers for parquet)."""
    if not path.is_file():
        raise EvalkitError(f"file not found: {path}", hint="paths in a suite are relative to the suite file")
    fmt = detect_format(path)
    if fmt == "parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        for number, row in enumerate(frame.to_dict(orient="records"), start=1):
            yield number, row
        return
    try:
        if fmt == "csv":
            # header is line 1, so the first data row is line 2
            rows = csv.DictReader(text for _, text in _lines(path))
            for number, row in enumerate(rows, start=2):
                yield number, dict(row)
            return
        for number, line in _lines(path):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalkitError(
                    f"not valid JSON ({exc.msg} at column {exc.pos + 1})",
                    where=f"{path}:{number}",
                    hint="each line of a .jsonl file must be one JSON object",
                ) from None
            if not isinstance(row, dict):
                raise EvalkitError(
                    f"expected a JSON object, got {type(row).__name__}", where=f"{path}:{number}"
                )
            yield number, row
    except (OSError, EOFError) as exc:
        raise EvalkitError(f"cannot read file ({exc})", where=str(path)) from None


def list_cell(value: Any, where: str, field: str) -> list[str]:
    """A list-valued cell as a list of strings: a JSON list, 'a;b' text (CSV), or a numpy array (parquet)."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise EvalkitError(f"field '{field}' is not a JSON list", where=where) from None
        else:
            return [part.strip() for part in text.split(";") if part.strip()]
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list):
        raise EvalkitError(f"field '{field}' must be a list", where=where)
    return [str(item) for item in value]
