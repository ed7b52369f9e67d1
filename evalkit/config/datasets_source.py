"""Cases from a Hugging Face dataset: `cases: {dataset: PATH, split: test, columns: {question: q}}`.

PATH is a dataset saved with `Dataset.save_to_disk` / `DatasetDict.save_to_disk` (a folder), or a
parquet, JSON or CSV file read through the `datasets` library. `columns` maps evalkit's case fields
to the dataset's column names; with a map, columns it does not name are ignored. Nothing is downloaded: the hub is never
asked (a folder or a file only).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Case

BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}


def dataset_rows(path: Path, split: str | None, columns: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row with evalkit's field names) for each row of the split."""
    from evalkit.core.offline import go_offline

    go_offline()
    import datasets

    datasets.disable_progress_bars()
    data = _open(path, split, datasets)
    missing = [column for column in columns.values() if column not in data.column_names]
    if missing:
        raise EvalkitError(f"the dataset has no column {', '.join(map(repr, missing))}", where=str(path),
                           hint=f"its columns: {', '.join(data.column_names)}")
    renamed = {dataset_column: field for field, dataset_column in columns.items()}
    fields = set(Case.model_fields)
    for number, row in enumerate(data, start=1):
        # with a column map, columns that are neither mapped nor named like a case field are left out
        yield f"{path} row {number}", {renamed.get(key, key): value for key, value in row.items()
                                       if key in renamed or not columns or key in fields}


def _open(path: Path, split: str | None, datasets: Any) -> Any:
    if path.is_dir():
        try:
            loaded = datasets.load_from_disk(str(path))
        except FileNotFoundError as exc:
            raise EvalkitError(f"not a saved dataset: {exc}", where=str(path),
                               hint="save it with Dataset.save_to_disk, or point at a parquet/JSON/CSV file") from None
    elif path.suffix.lower() in BUILDERS:
        loaded = datasets.load_dataset(BUILDERS[path.suffix.lower()], data_files={split or "train": str(path)})
    else:
        raise EvalkitError(f"cannot read '{path.name}' as a dataset", where=str(path),
                           hint="a folder saved with save_to_disk, or a .parquet, .json, .jsonl or .csv file")
    if isinstance(loaded, datasets.DatasetDict):
        chosen = split or ("test" if "test" in loaded else next(iter(loaded)))
        if chosen not in loaded:
            raise EvalkitError(f"the dataset has no split '{chosen}'", where=str(path),
                               hint=f"its splits: {', '.join(loaded)}")
        return loaded[chosen]
    return loaded
