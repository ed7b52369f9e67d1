"""An httpx2 transport that sends requests over an aiohttp connection pool.

The openai client speaks httpx2; its default transport (httpcore2) walks every pooled
connection on each request and release, about 0.5 ms of event-loop time per call at
concurrency 64. aiohttp's pool hands out idle connections from a queue and parses responses
in C (benchmarks/bench_llm.py). This transport keeps httpx2's TLS trust and proxy settings
and raises httpx2's exceptions, so the openai client and evalkit's retries see no difference.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from functools import cache
from typing import Any

import aiohttp
import httpx2


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx2's default TLS trust (certifi, SSL_CERT_FILE), built once: loading it takes 35-90 ms."""
    return httpx2.create_ssl_context()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """One aiohttp session (made on first use, inside the running event loop), whole bodies only."""

    def __init__(self, max_connections: int = 100):
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.max_connections, ssl=_tls_context())
        return aiohttp.ClientSession(connector=connector, auto_decompress=False)

    def _proxy(self, url: httpx2.URL) -> str | None:
        """The proxy HTTP(S)_PROXY and NO_PROXY set for this host, as httpx2 honours them.

        Looked up once per host: aiohttp's own lookup (trust_env) takes ~0.7 ms on every request."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            bypass = urllib.request.proxy_bypass(url.host)
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(url.scheme)
        return self._proxies[key]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        content = await request.aread()
        try:
            async with self._session.request(
                request.method, str(request.url), headers=list(request.headers.multi_items()),
                data=content or None, proxy=self._proxy(request.url), allow_redirects=False, compress=False,
                timeout=aiohttp.ClientTimeout(connect=timeout.get("pool"), sock_connect=timeout.get("connect"),
                                              sock_read=timeout.get("read")),
            ) as response:
                body = await _read_capped(response, request)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx2.ConnectTimeout(str(exc) or "connection timed out", request=request) from exc
        except TimeoutError as exc:  # aiohttp's read timeouts are asyncio (builtin) TimeoutErrors
            raise httpx2.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:  # server disconnected, payload cut short, bad status line
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        # the body is still as sent (auto_decompress=False): httpx2 decodes it by its content-encoding
        return httpx2.Response(response.status, headers=response.raw_headers, stream=httpx2.ByteStream(body),
                               request=request, extensions=extensions)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def max_reply_bytes() -> int:
    """The largest reply evalkit reads (EVALKIT_MAX_REPLY_BYTES, default 10 MB): an answer of
    50 MB once took 730 MB of memory and wrote 100 MB into each of the run's files."""
    return int(os.environ.get("EVALKIT_MAX_REPLY_BYTES", 10 * 2**20))


class ReplyTooLarge(httpx2.TransportError):
    """The server sent more than max_reply_bytes(): that sample's error, never retried."""


async def _read_capped(response: aiohttp.ClientResponse, request: httpx2.Request) -> bytes:
    limit = max_reply_bytes()
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise ReplyTooLarge(f"the reply is larger than {limit:,} bytes (EVALKIT_MAX_REPLY_BYTES)", request=request)
        chunks.append(chunk)
    return b"".join(chunks)
