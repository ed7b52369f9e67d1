"""A local OpenAI-compatible server for tests: scripted answers and injected faults, on 127.0.0.1.

`FakeOpenAI` answers POST /v1/chat/completions and /v1/completions. By default it answers with `answer_for(request)`;
`faults` is a list consumed one per request: "429" (with Retry-After), "429-hour" (Retry-After:
3600), "500", "401-echo" (echoes the Authorization header), "401-echo-long" (the key after 180 characters), "hang" (sleeps past the client's
timeout), "trickle" (10 bytes every 0.1 s), "reset" (half a reply, then the connection closes),
"garbage" (malformed JSON), "empty" (no choices). Requests are recorded,
headers included, so tests can count calls and check what was sent.

It runs on aiohttp in its own thread and event loop: a thread-per-connection server added ~40 ms
to every call at concurrency 64 (its threads queue for the GIL), which the throughput benchmark
would have charged to evalkit.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from evalkit.judges.model import MARKER as MODEL_JUDGE_MARKER


def _completion(content: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}


def echo_answer(request: dict[str, Any]) -> str:
    """Default script: answer with the first passage sentence cited in the prompt, or a fixed line."""
    prompt = request["prompt"] if "prompt" in request else request["messages"][-1]["content"]
    match = re.search(r"^\[([^\]]+)\] ([^.]+\.)", prompt, re.MULTILINE)
    if match:
        return f"{match.group(2)} [{match.group(1)}]"
    return "I answer from memory."


def faithfulness_judge(schema: str, given: dict[str, Any]) -> str:
    """A script for ragas's faithfulness prompts and evalkit's model judge: the statements are the
    answer's sentences, and a statement is supported (by passage 1) unless it says 'invented'."""
    if schema == "ClaimJudgements":  # evalkit's model judge
        claims = [s.strip() + "." for s in re.sub(r"\[[^\]]*\]", "", given["answer"]).split(".") if s.strip()]
        return json.dumps({"claims": [{"claim": c, "supported": "invented" not in c,
                                       "passage": None if "invented" in c else 1,
                                       "evidence": "" if "invented" in c else given["passages"][0]["text"][:40],
                                       "reason": "not in the passages" if "invented" in c else ""}
                                      for c in claims]})
    if schema == "StatementGeneratorOutput":
        return json.dumps({"statements": [s.strip() + "." for s in given["answer"].split(".") if s.strip()]})
    assert schema == "NLIStatementOutput", schema
    return json.dumps({"statements": [{"statement": s, "reason": "scripted", "verdict": int("invented" not in s)}
                                      for s in given["statements"]]})


class FakeOpenAI:
    def __init__(self, answer_for: Callable[[dict[str, Any]], str] = echo_answer, latency_s: float = 0.0,
                 judge: Callable[[str, dict[str, Any]], str] | None = None, gzip: bool = False,
                 judge_latency_s: float | None = None):
        """`judge(schema title, input)` answers ragas's structured prompts and evalkit's model judge
        with JSON text; `judge_latency_s` (default: `latency_s`) delays judge calls; `gzip`
        compresses answers."""
        self.answer_for, self.latency_s, self.judge, self.gzip = answer_for, latency_s, judge, gzip
        self.judge_latency_s = latency_s if judge_latency_s is None else judge_latency_s
        self.faults: list[str] = []
        self.requests: list[dict[str, Any]] = []
        # calls being answered right now, and the most at once, for "judge" and "answer" calls
        self.in_flight = {"judge": 0, "answer": 0}
        self.max_in_flight = {"judge": 0, "answer": 0}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"path": request.path, "body": body,
                              "headers": {k.lower(): v for k, v in request.headers.items()}})
        if request.path == "/ask":  # a team's own product endpoint
            return web.json_response({"data": {"text": f"About: {body['question']}",
                                               "sources": [{"id": "d1", "text": "Aspirin reduces fever."},
                                                           {"id": "d2"}]}})
        fault = self.faults.pop(0) if self.faults else None
        kind = "judge" if body.get("response_format", {}).get("type") == "json_object" else "answer"
        self.in_flight[kind] += 1
        self.max_in_flight[kind] = max(self.max_in_flight[kind], self.in_flight[kind])
        try:
            return await self._answer(request, body, fault, kind)
        finally:
            self.in_flight[kind] -= 1

    async def _broken_reply(self, request: web.Request, fault: str) -> web.StreamResponse:
        """"trickle": a whole reply sent 10 bytes every 0.1 s; "reset": half a reply, then the connection closes."""
        data = json.dumps(_completion("slow " * 40)).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(len(data))})
        await response.prepare(request)
        if fault == "reset":
            await response.write(data[: len(data) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        for start in range(0, len(data), 10):
            await response.write(data[start:start + 10])
            await asyncio.sleep(0.1)
        await response.write_eof()
        return response

    async def _answer(self, request: web.Request, body: dict[str, Any], fault: str | None,
                      kind: str) -> web.StreamResponse:
        delay = self.judge_latency_s if kind == "judge" else self.latency_s
        if delay:
            await asyncio.sleep(delay)
        if fault == "429":
            return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                     headers={"Retry-After": "0.05"})
        if fault == "429-hour":
            return web.json_response({"error": {"message": "come back later"}}, status=429,
                                     headers={"Retry-After": "3600"})
        if fault == "401-echo":  # a server that repeats the credentials it was sent
            return web.json_response({"error": {"message": f"bad key: {request.headers.get('authorization')}"}},
                                     status=401)
        if fault == "401-echo-long":  # ... after 180 characters, so a 200-character cut falls inside the key
            key = str(request.headers.get("authorization")).removeprefix("Bearer ")
            return web.json_response({"error": {"message": "e" * 180 + key}}, status=401)
        if fault in ("trickle", "reset"):
            return await self._broken_reply(request, fault)
        if fault == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if fault == "hang":
            await asyncio.sleep(3)
            return web.json_response({"error": {"message": "too late"}}, status=500)
        if fault == "garbage":
            return web.Response(body=b'{"id": "x", "choices": [', content_type="application/json")
        if fault == "empty":
            return web.json_response({**_completion("x"), "choices": []})
        if self.judge and kind == "judge" and body["messages"][0]["content"].startswith(MODEL_JUDGE_MARKER):
            return web.json_response(_completion(self.judge("ClaimJudgements",
                                                            json.loads(body["messages"][-1]["content"]))))
        if self.judge and kind == "judge":
            # ragas's structured prompts: the prompt names the output schema and ends with the input as JSON
            prompt = body["messages"][-1]["content"]
            schema = re.findall(r'"title": "(\w+)", "type": "object"}', prompt)[-1]
            given = json.loads(prompt.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0])
            return web.json_response(_completion(self.judge(schema, given)))
        if "prompt" in body:  # the completions API (base models)
            return web.json_response({**_completion(None), "object": "text_completion",
                                      "choices": [{"index": 0, "text": " " + self.answer_for(body), "finish_reason": "stop"}]})
        response = web.json_response(_completion(self.answer_for(body)))
        if self.gzip:  # as api.openai.com does for clients that accept it
            response.enable_compression(web.ContentCoding.gzip)
        return response

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=256).start()
        self._port = self._runner.addresses[0][1]

    def open_connections(self) -> int:
        """Client connections the server holds open now."""
        server = self._runner.server if self._runner else None
        return len(server.connections) if server else 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
