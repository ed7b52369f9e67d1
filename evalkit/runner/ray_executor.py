"""The Ray executor: a run's work items answered and scored on a Ray cluster.

Only the executor changes: the driver plans the run, keeps the one store writer, the progress, the
summary and the sinks, exactly as with the local executor. Work goes out as batches of item keys
(a candidate's cases, `batch_size` at a time); each worker process loads the suite once, builds
the same plan (item keys are content keys, so they match) and one Sampler, and keeps them for
every batch it runs, so indexes and models are built once per worker, not once per task. Samples
come back to the driver, which stores them as they arrive.

- Endpoint limits hold across the cluster: every model call takes a slot from one small actor
  (`CallSlots`), so `concurrency: 8` means 8 calls in flight in total. A slot is a lease that a
  dead worker's calls give back after the endpoint's timeout.
- A worker that dies mid-batch: Ray runs the batch again on another worker (`max_retries`); a
  batch's samples come back only when the whole batch is done, so none is stored twice. A batch
  that fails every retry leaves its samples missing: the run is incomplete, and `--resume` runs them.
- Outputs already in the stage cache are replayed on the driver, not sent out.
- Model-call usage (calls, tokens, cost, latency) is counted on the workers and added up here.

Without an address (`--ray-address`, `RAY_ADDRESS`), a local Ray instance is started for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError

if TYPE_CHECKING:
    from evalkit.core.records import Sample
    from evalkit.runner.plan import WorkItem
    from evalkit.runner.sample import Sampler

log = logging.getLogger("evalkit")


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to rebuild the run's sampler: the suite and the cache settings."""

    suite_path: str
    limit: int | None
    only: list[str] | None  # --candidate
    cache_dir: str
    use_cache: bool
    refresh: bool
    concurrency: int  # samples in flight in one worker


def import_ray() -> Any:
    from evalkit.core.offline import go_offline

    go_offline()  # no usage stats
    try:
        import ray
    except ImportError:
        raise EvalkitError("the ray executor needs Ray", hint="pip install 'evalkit[ray]'") from None
    return ray


class RayExecutor:
    def __init__(self, spec: WorkerSpec, address: str | None = None, batch_size: int = 16, max_retries: int = 3):
        self.spec, self.address = spec, address or os.environ.get("RAY_ADDRESS")
        self.batch_size, self.max_retries = batch_size, max_retries

    async def execute(self, items: Sequence[WorkItem], sampler: Sampler, emit: Callable[[Sample], None]) -> None:
        ray = import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level="ERROR",
                         log_to_driver=False, configure_logging=False)
            except ConnectionError as exc:
                raise EvalkitError(f"cannot join the Ray cluster at {self.address} ({exc})",
                                   hint="is it up (`ray status`)? A cluster with token authentication needs "
                                   "RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or ~/.ray/auth_token)") from None
        try:
            await self._execute(ray, items, sampler, emit)
        finally:
            if started_here:
                ray.shutdown()

    async def _execute(self, ray: Any, items: Sequence[WorkItem], sampler: Sampler,
                       emit: Callable[[Sample], None]) -> None:
        slots = ray.remote(num_cpus=0, max_concurrency=1000)(CallSlots).remote()
        task = ray.remote(_answer_batch).options(max_retries=self.max_retries)
        remote: dict[str, list[WorkItem]] = {}  # per candidate, in suite order
        for item in items:
            if sampler.replays(item):  # from the stage cache: cheap, here
                if (sample := await sampler.sample(item)) is not None:
                    emit(sample)
            else:
                remote.setdefault(item.candidate, []).append(item)
        batches = [work[i:i + self.batch_size] for work in remote.values()
                   for i in range(0, len(work), self.batch_size)]
        pending = {task.remote(self.spec, [item.key for item in batch], slots): batch for batch in batches}
        seen: set[str] = set()
        try:
            while pending:
                done, _ = await asyncio.to_thread(ray.wait, list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    batch = pending.pop(ref)
                    try:
                        samples, usage = ray.get(ref)
                    except Exception as exc:  # every retry failed: its samples stay missing (resumable)
                        log.warning("a batch of %d %s samples failed on the cluster (%s); resume the run to "
                                    "compute them", len(batch), batch[0].candidate, str(exc).splitlines()[0])
                        continue
                    sampler.add_usage(usage)
                    for sample in samples:
                        if sample.key not in seen:
                            seen.add(sample.key)
                            emit(sample)
        except BaseException:  # interrupted: stop the batches in flight; the stored samples are kept
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


class CallSlots:
    """The cluster-wide bound on model calls in flight (a Ray actor; see evalkit.models.llm.ClusterSlots)."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[int, float]] = {}  # endpoint key -> lease token -> expiry (loop time)
        self.next_token = 0
        self.changed: asyncio.Condition | None = None

    def _live(self, key: str, now: float) -> dict[int, float]:
        held = self.leases.setdefault(key, {})
        for token in [t for t, expiry in held.items() if expiry < now]:
            del held[token]  # its holder died without giving it back
        return held

    async def acquire(self, key: str, limit: int, lease_s: float) -> int:
        loop = asyncio.get_running_loop()
        self.changed = self.changed or asyncio.Condition()
        async with self.changed:
            while len(self._live(key, loop.time())) >= limit:
                with contextlib.suppress(TimeoutError):  # look again for expired leases every second
                    await asyncio.wait_for(self.changed.wait(), timeout=1.0)
            self.next_token += 1
            self.leases[key][self.next_token] = loop.time() + lease_s
            return self.next_token

    async def release(self, key: str, token: int) -> None:
        self.changed = self.changed or asyncio.Condition()
        async with self.changed:
            self.leases.get(key, {}).pop(token, None)
            self.changed.notify_all()


class _RemoteSlots:
    """The CallSlots actor as evalkit.models.llm.ClusterSlots, from inside a worker."""

    def __init__(self, actor: Any):
        self.actor = actor

    async def acquire(self, key: str, limit: int, lease_s: float) -> int:
        return int(await self.actor.acquire.remote(key, limit, lease_s))

    async def release(self, key: str, token: int) -> None:
        await self.actor.release.remote(key, token)


class _Worker:
    """One worker process's sampler for a run, built on its first batch and kept for the others."""

    def __init__(self, spec: WorkerSpec):
        from evalkit.config.suite import load_suite
        from evalkit.core.cache import StageCache
        from evalkit.runner.pipeline import set_up
        from evalkit.runner.sample import Sampler

        self.loop = asyncio.new_event_loop()  # one loop for the worker's life: connection pools belong to it
        suite = load_suite(Path(spec.suite_path), limit=spec.limit, only=spec.only)
        cache_dir = Path(spec.cache_dir)
        setup = set_up(suite, cache_dir, spec.use_cache, spec.refresh, max_error_rate=0.0, allow_skipped=True)
        self.judge, self.items = setup.judge, {item.key: item for item in setup.plan.items}
        endpoint = suite.spec.judge.endpoint if suite.spec.judge is not None else None
        stages = StageCache(cache_dir) if spec.use_cache and not spec.refresh else None
        self.sampler = Sampler(suite, setup.metrics, setup.context, endpoint.missing_key() if endpoint else None,
                               stages=stages, judge_key=setup.judge_key)
        self.semaphore = asyncio.Semaphore(spec.concurrency)
        self.prepared: set[str] = set()

    async def run(self, keys: list[str]) -> tuple[list[Sample], dict[str, dict[str, Any]]]:
        from evalkit.models.llm import CallStats

        items = [self.items[key] for key in keys]
        candidate = items[0].candidate
        if candidate not in self.prepared:
            await self.sampler.prepare(candidate, [i for i in self.items.values() if i.candidate == candidate])
            self.prepared.add(candidate)
        before = {name: copy.deepcopy(stats) for name, stats in self._owners().items()}

        async def one(item: WorkItem) -> Sample | None:
            async with self.semaphore:
                return await self.sampler.sample(item)

        samples = [s for s in await asyncio.gather(*(one(item) for item in items)) if s is not None]
        usage = {name: stats.gained_since(before.get(name) or CallStats()) for name, stats in self._owners().items()}
        return samples, usage

    def _owners(self) -> dict[str, Any]:
        """Whose model calls this worker counts: each built candidate, and the judge."""
        return {name: stats for name, stats in {**self.sampler.spenders(), "judge": self.judge.stats}.items()
                if stats is not None}


_workers: dict[WorkerSpec, _Worker] = {}  # per worker process


def _answer_batch(spec: WorkerSpec, keys: list[str], slots: Any) -> tuple[list[Sample], dict[str, dict[str, Any]]]:
    """A Ray task: the samples of these work items, and the model-call usage they cost."""
    from evalkit.models.llm import use_cluster_slots

    if spec not in _workers:
        _workers[spec] = _Worker(spec)
    worker = _workers[spec]
    use_cluster_slots(_RemoteSlots(slots))
    return worker.loop.run_until_complete(worker.run(keys))
