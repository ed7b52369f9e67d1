"""`evalkit cache info` and `evalkit cache prune`: what the cache folder holds, and keeping it small."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli.app import app, out

cache_app = typer.Typer(help="What evalkit's cache holds (indexes, model responses, stage results); prune it.",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")
CacheOpt = Annotated[Path | None, typer.Option(help="The cache folder [default: .evalkit-cache or $EVALKIT_CACHE_DIR]")]


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@cache_app.command("info")
def info(cache_dir: CacheOpt = None) -> None:
    """Where the cache is and what each part holds."""
    from evalkit.core.cache import StageCache
    from evalkit.core.cache import cache_dir as default_cache_dir

    folder = cache_dir or default_cache_dir()
    out.print(f"cache: {folder}")
    for part, what in (("indexes", "chunks, BM25 and dense indexes by corpus and settings"),
                       ("llm", "model responses by request")):
        files, size = _size(folder / part)
        out.print(f"  {part + '/':<14} {_mb(size):>10}  {files:>7,} files  {what}")
    stages = StageCache(folder)
    for kind, (entries, size) in sorted(stages.info().items()):
        out.print(f"  {'stages ' + kind:<14} {_mb(size):>10}  {entries:>7,} entries  {kind}s by content key")
    stages.close()


@cache_app.command("prune")
def prune(
    max_mb: Annotated[float, typer.Option(min=0, help="Keep the stage results within this many MB, dropping the least recently used.")] = 500.0,
    responses: Annotated[bool, typer.Option(help="Also delete every cached model response (they cost money to get again).")] = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Drop the least recently used stage results beyond --max-mb (and, with --responses, the model responses)."""
    import shutil

    from evalkit.core.cache import StageCache
    from evalkit.core.cache import cache_dir as default_cache_dir

    folder = cache_dir or default_cache_dir()
    stages = StageCache(folder)
    dropped = stages.prune(int(max_mb * 1e6))
    stages.close()
    out.print(f"dropped {dropped:,} stage results (kept within {max_mb:g} MB)")
    if responses and (folder / "llm").is_dir():
        files, size = _size(folder / "llm")
        shutil.rmtree(folder / "llm")
        out.print(f"deleted {files:,} cached model responses ({_mb(size)})")
