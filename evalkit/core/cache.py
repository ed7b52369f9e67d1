"""Content-addressed keys and atomic writes for everything evalkit caches on disk.

Keys are computed in one place, from a canonical JSON form of what determines the result, so
two runs that would compute the same thing share it and a change to any input misses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_CACHE_DIR = Path(".evalkit-cache")


def cache_dir() -> Path:
    return Path(os.environ.get("EVALKIT_CACHE_DIR", DEFAULT_CACHE_DIR))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks (a model adapter, a data file)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_key(*parts: Any) -> str:
    """sha256 of the canonical JSON of `parts` (sorted keys, no whitespace)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_json_atomic(path: Path, data: Any, indent: int | None = None) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a partial write; a
    write that fails (a full disk) leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=indent), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def cached_dir(root: Path, key: str, build: Callable[[Path], None]) -> tuple[Path, bool]:
    """Return (folder for `key`, was it already there). `build(tmp)` fills a fresh folder,
    which is renamed into place only when complete, so an interrupted build leaves nothing behind."""
    target = root / key[:2] / key
    if target.is_dir():
        return target, True
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:8]}-", dir=target.parent))
    try:
        build(tmp)
        os.replace(tmp, target)
    except OSError:
        if target.is_dir():  # another process finished the same build first
            shutil.rmtree(tmp, ignore_errors=True)
            return target, True
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target, False


class StageCache:
    """Results of run stages (a candidate's output for a case, a metric's score for an output), by
    content key, in one sqlite file: `<cache dir>/stages.sqlite`.

    An unchanged suite re-run reads everything from here and computes nothing; a changed candidate,
    an added case or an added metric misses exactly where it changed. Entries remember when they were
    last used, so `evalkit cache prune` drops the oldest first. A cache that cannot be read or
    written is no cache (the run computes), never an error."""

    FILE = "stages.sqlite"

    def __init__(self, folder: Path):
        import sqlite3

        self.path = folder / self.FILE
        self._db: Any = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost last write is a miss, not an error
            self._db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                             "value TEXT NOT NULL, used REAL NOT NULL)")
        except (OSError, sqlite3.Error):
            self._db = None

    def get_many(self, keys: list[str]) -> dict[str, str]:
        """The stored values of the keys found (and they count as used now)."""
        import sqlite3
        import time

        if self._db is None or not keys:
            return {}
        found: dict[str, str] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk))
            self._db.executemany("UPDATE entries SET used = ? WHERE key = ?",
                                 [(time.time(), key) for key in found])
        except sqlite3.Error:
            return {}
        return found

    def put_many(self, kind: str, items: dict[str, str]) -> None:
        import sqlite3
        import time

        if self._db is None or not items:
            return
        now = time.time()
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                                     [(key, kind, value, now) for key, value in items.items()])
        except sqlite3.Error:
            pass

    def info(self) -> dict[str, tuple[int, int]]:
        """kind -> (entries, bytes of values)."""
        if self._db is None:
            return {}
        rows = self._db.execute("SELECT kind, COUNT(*), SUM(LENGTH(value)) FROM entries GROUP BY kind")
        return {kind: (count, size or 0) for kind, count, size in rows}

    def prune(self, max_bytes: int) -> int:
        """Drop the least recently used entries until the values fit in max_bytes; returns how many."""
        if self._db is None:
            return 0
        total = sum(size for _, size in self.info().values())
        dropped = 0
        rows = self._db.execute("SELECT key, LENGTH(value) FROM entries ORDER BY used").fetchall()
        doomed = []
        for key, size in rows:
            if total <= max_bytes:
                break
            doomed.append((key,))
            total -= size
            dropped += 1
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM entries WHERE key = ?", doomed)
        self._db.execute("VACUUM")
        return dropped

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
