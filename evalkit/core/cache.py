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


def content_key(*parts: Any) -> str:
    """sha256 of the canonical JSON of `parts` (sorted keys, no whitespace)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_json_atomic(path: Path, data: Any, indent: int | None = None) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=indent), encoding="utf-8")
    tmp.replace(path)


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
