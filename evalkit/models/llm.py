"""The one place that talks to OpenAI-compatible endpoints (OpenAI, Azure, vLLM, Ollama, LiteLLM...).

Every client evalkit builds, for candidates and for ragas's judges alike, sends its HTTP through
`CallTransport`, which adds in one place: a content-addressed cache of responses, bounded
concurrency per endpoint, retries with exponential backoff and jitter on 429, 5xx and timeouts
(honouring Retry-After), and usage, cost and latency accounting. Underneath, one aiohttp
connection pool per endpoint and event loop carries the requests; `close_connections()` closes
them when a run is done. Keys come only from environment variables named in the suite and are
never part of a cache key or a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import random
import re
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx2  # the HTTP library of openai>=3

from evalkit.core.cache import content_key, write_json_atomic
from evalkit.core.redact import Redactor
from evalkit.models.aiohttp_transport import AiohttpTransport, ReplyTooLarge
from evalkit.models.endpoints import CacheSettings, EndpointSpec
from evalkit.models.local_models import cache_scope


@dataclass
class CallStats:
    """What one owner (a candidate or a judge) spent on model calls."""

    calls: int = 0  # HTTP requests sent, retries included
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0  # calls that still failed after their retries
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = True  # False when a model had no known price
    local: bool = False  # a model evalkit runs itself: priced at zero, and said so
    latencies_s: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from evalkit.analysis.stats import percentile

        return {"calls": self.calls, "cache_hits": self.cache_hits, "retries": self.retries,
                "failures": self.failures, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": round(self.cost_usd, 6) if self.priced else None,
                "latency_p50_s": percentile(self.latencies_s, 50), "latency_p95_s": percentile(self.latencies_s, 95),
                **({"local": True} if self.local else {})}

    def gained_since(self, before: CallStats) -> dict[str, Any]:
        """What these statistics gained since a copy taken earlier (`copy.deepcopy`), as plain data
        that another process's statistics can `add` (the Ray executor's workers report usage so)."""
        gained: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            now, then = getattr(self, name), getattr(before, name)
            gained[name] = now[len(then):] if name == "latencies_s" else now if isinstance(now, bool) else now - then
        return gained

    def add(self, gained: dict[str, Any]) -> None:
        """Add statistics gained elsewhere (`gained_since`): counts and latencies add up; one unpriced
        call makes the total unpriced, one local model makes it local."""
        for name, value in gained.items():
            current = getattr(self, name)
            if name == "priced":
                value = current and value
            elif name == "local":
                value = current or value
            else:
                value = current + value
            setattr(self, name, value)


@dataclass
class CallTiming:
    """Where the time of one answer's model calls went, told by the transport to whoever set it in
    `call_timing`: waiting for a slot in evalkit (a serializing server makes this most of the wall
    time), at the server, and the server time of replies replayed from the response cache (what
    those calls took when they were made)."""

    queued_s: float = 0.0
    server_s: float = 0.0
    replayed_s: float = 0.0  # server time, when they were made, of the calls answered from the cache
    cached_calls: int = 0


call_timing: contextvars.ContextVar[CallTiming | None] = contextvars.ContextVar("call_timing", default=None)
TIMING_KEY = "_evalkit_server_s"  # kept in a cached response: the server time of the original call


log = logging.getLogger("evalkit")
FAIL_FAST_AFTER = 5  # calls in a row that could not connect (after their retries) before an endpoint counts as down


class ResponseCache:
    """Responses on disk, one JSON file per request key.

    The cache never costs a response: an entry that does not read back (a truncated file) is a
    miss, dropped with a warning, and a response that cannot be written is still returned."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._write_failed = False

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        path = self._path(key)
        try:
            return json.loads(path.read_bytes())
        except OSError:  # not there (or not readable): a miss
            return None
        except ValueError as exc:  # torn or corrupt JSON
            log.warning("dropped a corrupt model-response cache entry %s (%s); calling the model again", path,
                        type(exc).__name__)
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, body: Any) -> None:
        try:
            write_json_atomic(self._path(key), body)
        except OSError as exc:
            if not self._write_failed:
                log.warning("cannot write the model-response cache in %s (%s); responses are kept in the run, "
                            "not cached", self.folder, exc.strerror or exc)
            self._write_failed = True


class RetryAfterTooLong(httpx2.TransportError):
    """The server asked to wait longer than evalkit waits between retries."""


class EndpointDown(httpx2.ConnectError):
    """Calls to this endpoint are not tried: the ones before could not connect."""


def request_key(url: str, body: Any) -> str:
    """The cache key of a request: endpoint URL and canonical JSON body (model, messages, parameters)."""
    return content_key("openai-request", url, body)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass
class _Endpoint:
    """What every call of one spec from one event loop shares (both belong to that loop)."""

    semaphore: asyncio.Semaphore  # the spec's concurrency bound
    pool: AiohttpTransport  # its connections
    failed_connects: int = 0  # calls in a row that could not connect
    down: str | None = None  # why calls are no longer tried, once FAIL_FAST_AFTER is reached


# per event loop, per spec: a judge at concurrency 16 and a candidate at 8 on the same URL each get
# their own bound (keyed by URL alone, the first one built would have held both to its own). A local
# model server is the exception: its slots are the server's, so every spec calling it shares one bound.
_endpoints: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, _Endpoint]] = (
    weakref.WeakKeyDictionary())


class ClusterSlots(Protocol):
    """A bound on calls in flight shared by every process of a run (the Ray executor's permit actor):
    `concurrency: 8` means 8 in total, however many workers call. A slot is a lease: one not given
    back within `lease_s` (its holder died) is reclaimed."""

    async def acquire(self, key: str, limit: int, lease_s: float) -> int: ...
    async def release(self, key: str, token: int) -> None: ...


_cluster_slots: ClusterSlots | None = None


def use_cluster_slots(slots: ClusterSlots | None) -> None:
    """Bound this process's model calls by slots shared with other processes (None: this process's own bound)."""
    global _cluster_slots
    _cluster_slots = slots


@contextlib.asynccontextmanager
async def _cluster_slot(key: str, limit: int, lease_s: float) -> AsyncIterator[None]:
    slots = _cluster_slots
    if slots is None:
        yield
        return
    token = await slots.acquire(key, limit, lease_s)
    try:
        yield
    finally:
        await slots.release(key, token)


async def close_connections() -> None:
    """Close the connection pools of the running event loop; call once its model calls are done."""
    for endpoint in _endpoints.pop(asyncio.get_running_loop(), {}).values():
        await endpoint.pool.aclose()


class CallTransport(httpx2.AsyncBaseTransport):
    """An httpx transport with evalkit's cache, retries, concurrency bound and accounting."""

    def __init__(self, spec: EndpointSpec, stats: CallStats, cache: ResponseCache | None, refresh: bool = False,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0):
        self.spec, self.stats, self.cache, self.refresh = spec, stats, cache, refresh
        self._redact = Redactor([spec.api_key()])  # a reply that echoes the key is cached without it
        stats.local = stats.local or spec.local
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        per_loop = _endpoints.setdefault(asyncio.get_running_loop(), {})
        bound = spec.base_url if spec.local else spec
        if bound not in per_loop:
            per_loop[bound] = _Endpoint(asyncio.Semaphore(spec.concurrency), AiohttpTransport(spec.concurrency))
        self._endpoint = per_loop[bound]
        # a local server's URL has a new port every run: its cache keys name the model file instead
        self._scope = (spec.base_url or "", _local_scope(spec)) if spec.local else None
        self._semaphore, self._inner = self._endpoint.semaphore, self._endpoint.pool
        # the same bound across processes: the spec (or a local server's URL), hashed
        shared = str(bound) if spec.local else spec.model_dump_json()
        self._cluster_key = hashlib.sha256(shared.encode()).hexdigest()[:16]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        key = None
        timing = call_timing.get()
        if self.cache is not None and request.method == "POST" and request.content:
            url = str(request.url)
            if self._scope is not None:
                url = url.replace(*self._scope, 1)
            key = request_key(url, json.loads(request.content))
        if key and not self.refresh and (cached := self.cache.get(key)) is not None:  # type: ignore[union-attr]
            self.stats.cache_hits += 1
            if timing is not None:
                timing.cached_calls += 1
                timing.replayed_s += float(cached.pop(TIMING_KEY, 0.0)) if isinstance(cached, dict) else 0.0
            return httpx2.Response(200, json=cached, request=request)
        if self._endpoint.down:
            self.stats.failures += 1
            raise EndpointDown(self._endpoint.down, request=request)
        for attempt in range(self.spec.max_retries + 1):
            started = time.perf_counter()
            self.stats.calls += 1
            try:
                async with self._semaphore, _cluster_slot(self._cluster_key, self.spec.concurrency,
                                                          self.spec.timeout_s + 5):
                    sent = time.perf_counter()
                    if timing is not None:
                        timing.queued_s += sent - started
                    response = await self._send(request)
                    if timing is not None:
                        timing.server_s += time.perf_counter() - sent
            except ReplyTooLarge:  # the same request gets the same reply: not retried
                self.stats.failures += 1
                raise
            except (httpx2.TimeoutException, httpx2.TransportError) as exc:
                if attempt < self.spec.max_retries:
                    await self._sleep(attempt, None)
                    continue
                self.stats.failures += 1
                self._count_connect_failure(exc)
                raise
            self._endpoint.failed_connects = 0
            retryable = response.status_code == 429 or response.status_code >= 500
            if retryable and attempt < self.spec.max_retries:
                wait = _retry_after(response.headers)
                if wait is not None and wait > self.max_backoff_s:
                    self.stats.failures += 1
                    raise RetryAfterTooLong(f"HTTP {response.status_code}: the server asked to retry after {wait:g} s, "
                                            f"longer than evalkit waits ({self.max_backoff_s:g} s)", request=request)
                await self._sleep(attempt, wait)
                continue
            self.stats.latencies_s.append(time.perf_counter() - sent)  # at the server, not queued
            if response.status_code != 200:
                self.stats.failures += 1
                return response
            self._account(response, key, time.perf_counter() - sent)
            return response
        raise AssertionError("unreachable")

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        """One attempt, bounded as a whole: a server that trickles its reply byte by byte times out too
        (the client's own timeouts bound each read, not the call). Time queued for a slot is not counted."""
        try:
            async with asyncio.timeout(self.spec.timeout_s):
                response = await self._inner.handle_async_request(request)
                await response.aread()
                return response
        except TimeoutError:
            raise httpx2.ReadTimeout(f"no complete reply within {self.spec.timeout_s:g} s", request=request) from None

    def _count_connect_failure(self, exc: Exception) -> None:
        if not isinstance(exc, httpx2.ConnectError):
            return
        endpoint = self._endpoint
        endpoint.failed_connects += 1
        if endpoint.failed_connects >= FAIL_FAST_AFTER and endpoint.down is None:
            endpoint.down = (f"not tried: the last {FAIL_FAST_AFTER} calls to {self.spec.base_url or 'the OpenAI API'} "
                             f"could not connect ({exc})")

    async def _sleep(self, attempt: int, retry_after: float | None) -> None:
        self.stats.retries += 1
        delay = retry_after if retry_after is not None else min(self.max_backoff_s, self.backoff_s * 2**attempt)
        await asyncio.sleep(delay * (1 + random.random() * 0.25))  # jitter spreads retries apart

    def _account(self, response: Any, key: str | None, server_s: float) -> None:
        try:
            payload = response.json()
        except ValueError:
            self.stats.failures += 1  # malformed: the client raises on it; nothing to count or cache
            return
        usage = token_usage(payload)
        self.stats.prompt_tokens += usage.get("prompt_tokens", 0)
        self.stats.completion_tokens += usage.get("completion_tokens", 0)
        cost = self.spec.cost(usage)
        if cost is None:
            self.stats.priced = False
        else:
            self.stats.cost_usd += cost
        if key and isinstance(payload, dict) and payload.get("choices"):
            seen = json.dumps(payload, ensure_ascii=False)  # walked only when the key could be in it
            kept = self._redact.deep(payload) if self._redact.needed(seen) else payload
            self.cache.put(key, {**kept, TIMING_KEY: round(server_s, 6)})  # type: ignore[union-attr]


def make_transport(spec: EndpointSpec, stats: CallStats, cache: CacheSettings) -> CallTransport:
    """The transport for one owner's calls, with the run's cache settings (--no-cache, --refresh)."""
    return CallTransport(spec, stats, ResponseCache(cache.folder) if cache.folder else None, refresh=cache.refresh)


def _local_scope(spec: EndpointSpec) -> str:
    return cache_scope(spec.model, spec.adapter.sha256 if spec.adapter else None)


def resolve_endpoint(spec: EndpointSpec, cache_dir: Path | None = None) -> EndpointSpec:
    """The endpoint to call: `spec` itself, or for a `local:` model its running server (started on
    first use, blocking until it answers: call it from a thread in async code)."""
    if not spec.local or spec.base_url:
        return spec
    from evalkit.core.cache import cache_dir as default_cache_dir
    from evalkit.models.local import resolve

    return resolve(spec, cache_dir or default_cache_dir())


def make_client(spec: EndpointSpec, stats: CallStats, cache: CacheSettings) -> Any:
    """An AsyncOpenAI client whose every request goes through CallTransport (its own retries off)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key=spec.api_key(), base_url=spec.base_url,
                       timeout=spec.timeout_s, max_retries=0,
                       http_client=httpx2.AsyncClient(transport=make_transport(spec, stats, cache),
                                                      timeout=spec.timeout_s))


class ModelCallError(Exception):
    """A model call that produced no usable answer; recorded as the sample's error."""


async def chat(client: Any, spec: EndpointSpec, messages: list[dict[str, str]],
               response_format: dict[str, Any] | None = None) -> tuple[str, dict[str, int]]:
    """One chat completion: (text, usage). Raises ModelCallError on an empty or malformed answer."""
    if spec.system_role is False:
        messages = merge_system(messages)
    params: dict[str, Any] = {"model": spec.model, "messages": messages, "temperature": spec.temperature}
    if response_format is not None:
        params["response_format"] = response_format
    if spec.max_tokens is not None:
        params["max_tokens"] = spec.max_tokens
    payload = await _post(client, spec, "/chat/completions", params)
    return _completion_text(payload, spec.model), token_usage(payload)


async def complete(client: Any, spec: EndpointSpec, prompt: str, stop: list[str]) -> tuple[str, dict[str, int]]:
    """One text completion (the API for base models: a few-shot prompt that the model continues,
    cut at `stop`): (text, usage). Raises ModelCallError on an empty or malformed answer."""
    params: dict[str, Any] = {"model": spec.model, "prompt": prompt, "temperature": spec.temperature}
    if stop:
        params["stop"] = stop
    if spec.max_tokens is not None:
        params["max_tokens"] = spec.max_tokens
    payload = await _post(client, spec, "/completions", params)
    choices = payload.get("choices") if isinstance(payload, dict) else None
    text = choices[0].get("text") if choices and isinstance(choices, list) and isinstance(choices[0], dict) else None
    if not isinstance(text, str):
        raise ModelCallError(f"malformed response from {spec.model}: no completion text")
    return text.strip(), token_usage(payload)


def merge_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages for a chat template without a system role: the system text opens the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        first = next((m for m in rest if m["role"] == "user"), None)
        if first is None:
            rest.insert(0, {"role": "user", "content": system})
        else:
            first["content"] = f"{system}\n\n{first['content']}"
    return rest


async def _post(client: Any, spec: EndpointSpec, path: str, params: dict[str, Any]) -> Any:
    import openai

    try:
        # the client's low-level post, answered as plain JSON: the typed create() and ChatCompletion
        # spend ~0.5 ms per call transforming a body that is already plain JSON (benchmarks/bench_llm.py)
        return await client.post(path, body=params, cast_to=object)
    except openai.APIStatusError as exc:  # the server's own words when it sent {"error": {"message": ...}}
        detail = exc.body.get("message") if isinstance(exc.body, dict) else None
        said = Redactor([spec.api_key()])(str(detail or exc.message)) or ""  # redacted before it is cut short
        raise ModelCallError(f"HTTP {exc.status_code} from {spec.model}: {said[:200]}") from None
    except openai.APITimeoutError:
        raise ModelCallError(f"timed out after {spec.timeout_s:g} s ({spec.max_retries} retries)") from None
    except openai.APIConnectionError as exc:
        raise ModelCallError(connection_error(exc.__cause__, spec.base_url or "the OpenAI API")) from None
    except (openai.APIResponseValidationError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise ModelCallError(f"malformed response from {spec.model}: {exc}") from None


def connection_error(cause: BaseException | None, where: str) -> str:
    """What went wrong on the way to an endpoint, in words: the server asked to wait too long, it is
    down, the reply broke off after the server was reached, or it could not be reached."""
    if isinstance(cause, RetryAfterTooLong | EndpointDown | ReplyTooLarge):
        return str(cause)
    if isinstance(cause, httpx2.ReadError | httpx2.RemoteProtocolError):
        return f"the connection to {where} broke during the reply ({cause})"
    return f"cannot reach {where}: {cause or 'connection error'}"


def _completion_text(payload: Any, model: str) -> str:
    """The first choice's message text of a chat completion, or a ModelCallError saying what is wrong."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices or not isinstance(choices, list):
        raise ModelCallError(f"{model} returned no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    if text is None:
        raise ModelCallError(f"{model} returned an empty message")
    if not isinstance(text, str):
        raise ModelCallError(f"malformed response from {model}: message content is {type(text).__name__}")
    return text


_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def unfence(text: str) -> str:
    """A JSON-mode reply without the code fence some OpenAI-compatible servers wrap it in."""
    text = text.strip()
    fenced = _FENCED.match(text)
    return fenced.group(1) if fenced else text


def token_usage(payload: Any) -> dict[str, int]:
    """The prompt and completion tokens a chat completion reports; {} when it reports none."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return {}
    return {"prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0)}
