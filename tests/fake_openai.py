"""A local OpenAI-compatible server for tests: scripted answers and injected faults, on 127.0.0.1.

`FakeOpenAI` answers POST /v1/chat/completions. By default it answers with `answer_for(request)`;
`faults` is a list consumed one per request: "429" (with Retry-After), "500", "hang" (sleeps past
the client's timeout), "garbage" (malformed JSON), "empty" (no choices). Requests are recorded,
headers included, so tests can count calls and check what was sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _completion(content: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}


def echo_answer(request: dict[str, Any]) -> str:
    """Default script: answer with the first passage sentence cited in the prompt, or a fixed line."""
    prompt = request["messages"][-1]["content"]
    match = re.search(r"^\[([^\]]+)\] ([^.]+\.)", prompt, re.MULTILINE)
    if match:
        return f"{match.group(2)} [{match.group(1)}]"
    return "I answer from memory."


class FakeOpenAI:
    def __init__(self, answer_for: Callable[[dict[str, Any]], str] = echo_answer, latency_s: float = 0.0,
                 judge: Callable[[str, dict[str, Any]], str] | None = None):
        """`judge(schema title, input)` answers ragas's structured prompts with JSON text."""
        self.answer_for, self.latency_s, self.judge = answer_for, latency_s, judge
        self.faults: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "headers": headers})
                    fault = server.faults.pop(0) if server.faults and self.path != "/ask" else None
                if self.path == "/ask":  # a team's own product endpoint
                    reply = {"data": {"text": f"About: {body['question']}",
                                      "sources": [{"id": "d1", "text": "Aspirin reduces fever."}, {"id": "d2"}]}}
                    return self._send(200, reply)
                if server.latency_s:
                    time.sleep(server.latency_s)
                if fault == "429":
                    return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.05"})
                if fault == "500":
                    return self._send(500, {"error": {"message": "boom"}})
                if fault == "hang":
                    time.sleep(3)
                    return self._send(500, {"error": {"message": "too late"}})
                if fault == "garbage":
                    return self._send_raw(200, b'{"id": "x", "choices": [')
                if fault == "empty":
                    return self._send(200, {**_completion("x"), "choices": []})
                if server.judge and body.get("response_format", {}).get("type") == "json_object":
                    # ragas through instructor's JSON mode: the prompt names the output schema and
                    # ends with the input as JSON
                    prompt = body["messages"][-1]["content"]
                    schema = re.findall(r'"title": "(\w+)", "type": "object"}', prompt)[-1]
                    given = json.loads(prompt.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0])
                    return self._send(200, _completion(server.judge(schema, given)))
                return self._send(200, _completion(server.answer_for(body)))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send_raw(status, json.dumps(payload).encode(), headers)

            def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        ThreadingHTTPServer.request_queue_size = 256  # many clients connect at once in the benchmark
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
