"""Real servers for tests: the ingest API as a subprocess and a scripted HTTP file server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class IngestServer:
    """A real `gex-pipeline serve` (uvicorn) subprocess bound to 127.0.0.1 on a free port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = int(env["GEX_INGEST_PORT"])
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> IngestServer:
        """Start the server and wait until `/health` answers; fail with its log otherwise."""
        import httpx

        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gex_pipeline.cli", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ingest server exited {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"ingest server did not start within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Graceful stop (SIGTERM: flush and seal); True when the server exited on its own.

        uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit.
        """
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return False
        return self.proc.returncode in (0, -signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the server's process group (every worker) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class HistoryHttpServer:
    """A real HTTP server on 127.0.0.1 (own thread) whose paths answer with scripted behaviours.

    `route(path, *responses)`: each GET of `path` (query ignored) plays the next response, the
    last one repeating. A response is a tuple `(kind, arg)`: `("body", bytes)`, `("status", int)`,
    `("redirect", url)`, `("slow", (delay_s, bytes))`, `("short", (bytes, announced_len))`,
    `("chunked", bytes)` (no Content-Length).
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self
        self.routes: dict[str, list[tuple[str, object]]] = {}
        self.hits: dict[str, int] = {}
        self.queries: list[str] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                with owner._lock:
                    count = owner.hits.get(path, 0)
                    owner.hits[path] = count + 1
                    owner.queries.append(query)
                    plan = owner.routes.get(path, [("status", 404)])
                kind, arg = plan[min(count, len(plan) - 1)]
                owner._play(self, kind, arg)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _play(handler: object, kind: str, arg: object) -> None:
        h = handler  # BaseHTTPRequestHandler
        if kind == "status":
            h.send_response(int(arg))
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif kind == "redirect":
            h.send_response(302)
            h.send_header("Location", str(arg))
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif kind in ("body", "slow", "short"):
            delay, data, announced = 0.0, arg, None
            if kind == "slow":
                delay, data = arg
            if kind == "short":
                data, announced = arg
            h.send_response(200)
            h.send_header("Content-Length", str(announced or len(data)))
            h.end_headers()
            if delay:
                time.sleep(delay)
            with contextlib.suppress(OSError):
                h.wfile.write(data)
            if kind == "short":
                h.close_connection = True
        elif kind == "chunked":
            h.send_response(200)
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            with contextlib.suppress(OSError):
                for start in range(0, len(arg), 1 << 16):
                    piece = arg[start : start + (1 << 16)]
                    h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                h.wfile.write(b"0\r\n\r\n")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def route(self, path: str, *responses: tuple[str, object]) -> None:
        """Script the responses of `path`."""
        with self._lock:
            self.routes[path] = list(responses)

    def url(self, path: str, query: str = "", host: str = "127.0.0.1") -> str:
        """`http://<host>:<port><path>[?query]`."""
        return f"http://{host}:{self.port}{path}" + (f"?{query}" if query else "")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
