"""Execute work items: the Executor seam, and the local asyncio executor.

An executor decides where and how concurrently samples are computed; it never scores, stores or
aggregates. It hands each finished Sample to `emit` (the store's one writer) as soon as it exists.
A distributed executor implements the same protocol: it builds its own Sampler on each worker
from the run's spec and sends the samples back to the one writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evalkit.core.records import Sample
    from evalkit.runner.plan import WorkItem
    from evalkit.runner.sample import Sampler


class Executor(Protocol):
    async def execute(self, items: Sequence[WorkItem], sampler: Sampler, emit: Callable[[Sample], None]) -> None: ...


class LocalExecutor:
    """In this process: candidate by candidate, `prepare` once (for that candidate's items), then up to
    `concurrency` samples at once.

    `on_prepared` runs after each candidate is prepared and before its samples start: the CLI
    passes `gc.freeze`, so that what was imported and built for the run stays out of the garbage
    collector's scans (their pauses stalled every call in flight: benchmarks/bench_llm.py)."""

    def __init__(self, concurrency: int, on_prepared: Callable[[], None] | None = None):
        self.concurrency = concurrency
        self.on_prepared = on_prepared

    async def execute(self, items: Sequence[WorkItem], sampler: Sampler, emit: Callable[[Sample], None]) -> None:
        semaphore = asyncio.Semaphore(self.concurrency)
        by_candidate: dict[str, list[WorkItem]] = {}
        for item in items:
            by_candidate.setdefault(item.candidate, []).append(item)

        async def one(item: WorkItem) -> None:
            async with semaphore:
                sample = await sampler.sample(item)
            if sample is not None:  # None: the sampler starts no more work (its budget is spent)
                emit(sample)

        for candidate, work in by_candidate.items():
            await sampler.prepare(candidate, work)
            if self.on_prepared is not None:
                self.on_prepared()
            tasks = [asyncio.ensure_future(one(item)) for item in work]
            try:
                await asyncio.gather(*tasks)
            except BaseException:  # cancelled, or a sample could not be stored: stop the others, then say so
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
