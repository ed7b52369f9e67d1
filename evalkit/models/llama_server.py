"""llama.cpp's own HTTP server, from the prebuilt `xllamacpp` wheel, as a process of its own.

`python -m evalkit.models.llama_server --model FILE --port N [--lora FILE]` serves one GGUF model
(and one LoRA adapter at scale 1) on 127.0.0.1 until it gets SIGTERM or SIGINT. xllamacpp runs
the server inside the Python process that starts it and has no command-line entry point, so
evalkit.models.local starts this module in a child process: the run keeps a process it can
stop, a log file, and a server that dies with it, as it would with any other server binary.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading

PORT_TAKEN = 98  # exit code: another process took the port first (the caller starts again on another)


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evalkit.models.llama_server", description=__doc__)
    parser.add_argument("--model", required=True, help="the GGUF model file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--chat-template", default="", help="a template built into llama.cpp, e.g. gemma")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lora", default=None, help="a llama.cpp LoRA adapter (GGUF), applied at scale 1")
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.n_ctx
    if args.chat_template:  # a built-in template's name, which the Jinja engine would read as a template
        params.use_jinja = False
        params.chat_template = args.chat_template
    params.n_parallel = 1  # one slot: the whole context serves the one request a small machine can run
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = ["127.0.0.1"]
    params.offline = True  # never reaches for a hub
    params.ui = False
    params.port = args.port
    if args.lora:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(args.lora, 1.0)]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server = xllamacpp.Server(params)
    except RuntimeError:  # xllamacpp says "Failed to init server" whatever the cause
        if _taken(args.port):
            print(f"port {args.port} is taken", flush=True)
            return PORT_TAKEN
        raise
    print(f"llama.cpp (xllamacpp {xllamacpp.__version__}) listening on {server.listening_address}", flush=True)
    stop.wait()
    # out at once: the server keeps nothing worth saving, and its orderly shutdown waits for the request
    # in flight (seconds on a busy machine), while the run that started it is gone or going
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
