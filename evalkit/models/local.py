"""Managed local models: `model: local:gemma3-270m` in a suite runs a llama.cpp server for the run.

On first use evalkit assembles the model file into its cache (sha256-checked), starts llama.cpp's
own OpenAI-compatible server (prebuilt in the xllamacpp wheel: no compiler, evalkit.models.llama_server)
in a child process on a free loopback port, waits until it answers, and
hands back the endpoint with its base_url set: calls then go through the same transport as any
endpoint (cache, retries, concurrency, usage). The server stops when the run ends or is
interrupted, and dies with evalkit if evalkit is killed (the kernel's parent-death signal), so no
server outlives its run.

Defaults are for a small server on a small machine: the server answers one request at a time, so
the endpoint's concurrency is its slot count (calls queue in evalkit, where waiting does not count
against the call's timeout); `max_tokens` is bounded; the context is sized for few-shot prompts
with a few passages. The model's chat template has no system role, so system text is merged into
the first user turn (`system_role: false`). On a small machine OpenMP's busy-waiting threads starve
the server (one run stalled at 0.5 tokens/s), so the server runs with OMP_WAIT_POLICY=passive.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.models.endpoints import Adapter, EndpointSpec
from evalkit.models.local_models import INSTALL_HINT, PREFIX, is_local, local_model, server_version

log = logging.getLogger("evalkit")


class LocalServer:
    """One llama.cpp server process on a loopback port."""

    def __init__(self, model: str, cache_dir: Path, adapter: Adapter | None = None):
        self.model, self.spec, self.adapter = model, local_model(model), adapter
        self.cache_dir = cache_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        lora = f"+lora-{adapter.sha256[:12]}" if adapter else ""
        self.log_path = cache_dir / "models" / f"{model.removeprefix(PREFIX)}{lora}.server.log"

    def model_file(self) -> Path:
        try:
            package = __import__(self.spec.package)
        except ImportError:
            raise EvalkitError(f"the model files of {self.model} are not installed", hint=INSTALL_HINT) from None
        target = self.cache_dir / "models" / self.spec.file_name
        try:
            return Path(package.assemble(target))  # checks the sha256, also of a file assembled before
        except (OSError, ValueError) as exc:
            raise EvalkitError(f"cannot assemble the model file {target}: {exc}",
                               hint="delete it and run again; evalkit assembles it anew") from None

    def start(self, timeout_s: float = 120.0, attempts: int = 3) -> str:
        """The server's URL once it answers. A port another process takes between evalkit choosing it
        and the server binding it makes the server exit with PORT_TAKEN; it then starts on another."""
        if server_version() is None:
            raise EvalkitError(f"{self.model} needs llama.cpp's server (the xllamacpp package)", hint=INSTALL_HINT)
        for _ in range(attempts):
            url = self._start_on(_free_port(), timeout_s)
            if url is not None:
                return url
            log.info("the local model server's port was taken; starting it on another")
        raise EvalkitError(f"the local model server for {self.model} found its port taken {attempts} times "
                           "in a row", hint="other processes are taking loopback ports as fast as they free up; "
                                            "run again when they are done")

    def _start_on(self, port: int, timeout_s: float) -> str | None:
        """Start the server on `port`; its URL once it answers, None if the port was taken."""
        from evalkit.models.llama_server import PORT_TAKEN

        path = self.model_file()
        command = [sys.executable, "-m", "evalkit.models.llama_server", "--model", str(path), "--port", str(port),
                   "--n-ctx", str(self.spec.n_ctx), "--chat-template", self.spec.chat_template,
                   "--threads", str(os.cpu_count() or 1)]
        if self.adapter is not None:
            command += ["--lora", str(self.adapter.checked_file())]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as server_log:
            self.process = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                            env={**os.environ, "OMP_WAIT_POLICY": "passive"})
        self.url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self.process.returncode == PORT_TAKEN:
                    self.process = None
                    return None
                raise EvalkitError(f"the local model server for {self.model} exited with code "
                                   f"{self.process.returncode} while starting: {self._last_log_lines()}",
                                   hint=f"its whole log is {self.log_path}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return self.url
            time.sleep(0.2)
        self.stop()
        raise EvalkitError(f"the local model server for {self.model} did not answer within {timeout_s:g} s",
                           hint=f"its log is {self.log_path}")

    def _last_log_lines(self, count: int = 3) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(line.strip()[:200] for line in lines[-count:]) if lines else "no output"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM when evalkit's process dies, however it dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_servers: dict[tuple[str, str], LocalServer] = {}  # by model and adapter sha256
_lock = threading.Lock()


def resolve(spec: EndpointSpec, cache_dir: Path) -> EndpointSpec:
    """The endpoint to call for `spec`: itself, or for a local model its running server (started on
    first use) with the local defaults filled in."""
    if not is_local(spec.model):
        return spec
    model = local_model(spec.model)
    key = (spec.model, spec.adapter.sha256 if spec.adapter else "")
    with _lock:
        server = _servers.get(key)
        if server is None or not server.alive():
            server = LocalServer(spec.model, cache_dir, spec.adapter)
            log.info("starting the local model server for %s%s", spec.model,
                     f" with the adapter {spec.adapter.path}" if spec.adapter else "")
            server.start()
            _servers[key] = server
    return spec.model_copy(update={
        "base_url": server.url, "api_key_env": None,
        "concurrency": min(spec.concurrency, model.slots),
        "max_tokens": spec.max_tokens or model.max_tokens,
        "system_role": model.system_role if spec.system_role is None else spec.system_role,
    })


def stop_servers() -> None:
    """Stop every local model server this process started (the end of a run, or exit)."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.stop()


atexit.register(stop_servers)
