"""Shared fixtures. Add new fixtures below; do not change existing ones (several suites rely on them)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gex_pipeline.lib.settings import Settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory, exported as GEX_DATA_DIR (DAGSTER_HOME inside it)."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("GEX_DATA_DIR", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(path / "dagster_home"))
    (path / "dagster_home").mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings for the temp data directory."""
    return Settings.from_env()


# --- GEX pipeline fixtures (issue 4) ---------------------------------------------------------

GEX_BASE_MS = 1_763_130_600_000  # 2025-11-14 14:30:00 UTC = 09:30 America/New_York


class GexStagingTree:
    """Writes sealed `gex` segments (docs/staging.md format) into a temp staging area."""

    def __init__(self, staging_dir: Path) -> None:
        import time

        from gex_pipeline.lib.staging.layout import GEX_STREAM, stream_dirs

        self.staging_dir = staging_dir
        self.dirs = stream_dirs(staging_dir, GEX_STREAM).ensure()
        self._next_seq = time.time_ns()  # seqs are sealing times: keep them recent
        self._ids = 0

    def record(
        self,
        ticker: str = "SPX",
        endpoint: str = "gex_zero",
        timestamp: int = GEX_BASE_MS,
        *,
        kind: str = "snapshot",
        spot: float = 6734.25,
        strikes: list[list[object]] | None = None,
        **fields: object,
    ) -> dict[str, object]:
        """One normalised gex record; strikes default to three rows with priors."""
        self._ids += 1
        record: dict[str, object] = {
            "id": f"{self._ids:032x}",
            "received_at": timestamp + 150,
            "ticker": ticker,
            "endpoint": endpoint,
            "kind": kind,
            "timestamp": timestamp,
            "spot": spot,
            "zero_gamma": 6708.6,
            "sum_gex_vol": 1712585.519,
            "sum_gex_oi": 51521.105,
            "major_pos_vol": 6735.0,
            "major_neg_vol": 6700.0,
            "major_pos_oi": 6800.0,
            "major_neg_oi": 6500.0,
            "min_dte": 0,
            "sec_min_dte": 1,
            "delta_risk_reversal": 0.118,
            "max_priors": [[6740.0, 170979.742], [6735.0, 1145886.722]],
            "max_change": None,
            "strikes": strikes
            if strikes is not None
            else [
                [6700.0, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]],
                [6735.0, 132.54, 9.27, [127.89, 99.27, 91.41, 80.33, 77.31]],
                [6740.0, 5.5, None, None],
            ],
            "extra": None,
        }
        record.update(fields)
        return record

    def seal(self, records: list[dict[str, object]], seq: int | None = None):
        """Write `records` as one sealed segment (`seq`, default the next one); return its Segment."""
        import json

        from gex_pipeline.lib.staging.layout import seq_name
        from gex_pipeline.lib.staging.reader import Segment

        if seq is None:
            self._next_seq += 1_000_000
            seq = self._next_seq
        path = self.dirs.sealed / seq_name(seq)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return Segment(seq, path)


@pytest.fixture
def gex_staging(data_dir: Path) -> GexStagingTree:
    """An empty `gex` staging stream under the temp data directory, with record/segment builders."""
    return GexStagingTree(data_dir / "staging")


# --- ingest API fixtures (issue 3) ---------------------------------------------------------


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


@pytest.fixture
def ingest_server(data_dir: Path, tmp_path: Path) -> Iterator[Callable[..., IngestServer]]:
    """Factory: `ingest_server(GEX_INGEST_X="...")` starts a real server with those env overrides."""
    servers: list[IngestServer] = []

    def start(**overrides: str) -> IngestServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEX_INGEST_")}
        env.update(
            GEX_DATA_DIR=str(data_dir),
            GEX_INGEST_HOST="127.0.0.1",
            GEX_INGEST_PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
        )
        env.update(overrides)
        server = IngestServer(env, tmp_path / f"ingest-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def ingest_client(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestClient]]:
    """Factory: an in-process ingest app (lifespan running) with env overrides, as a TestClient."""
    from fastapi.testclient import TestClient

    from ingest_api.app import create_app
    from ingest_api.settings import ApiSettings

    for name in [k for k in os.environ if k.startswith("GEX_INGEST_")]:
        monkeypatch.delenv(name)
    with contextlib.ExitStack() as stack:

        def make(**overrides: str) -> TestClient:
            for name, value in overrides.items():
                monkeypatch.setenv(name, value)
            client = TestClient(create_app(ApiSettings.from_env()))
            return stack.enter_context(client)

        yield make


@pytest.fixture
def staged(data_dir: Path) -> Callable[[str], list[dict[str, object]]]:
    """Reader of every record staged for a stream (`gex`, `uw`), open and sealed segments alike."""
    import json

    def read(stream: str) -> list[dict[str, object]]:
        root = data_dir / "staging" / stream
        paths = sorted((root / "sealed").glob("*.jsonl")) + sorted((root / "open").glob("*.open"))
        return [json.loads(line) for p in paths for line in p.read_bytes().splitlines()]

    return read


# --- history download fixtures (issue 5) -------------------------------------------------------


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


@pytest.fixture
def history_http() -> Iterator[HistoryHttpServer]:
    """A scripted HTTP server on 127.0.0.1 for history download tests."""
    server = HistoryHttpServer()
    try:
        yield server
    finally:
        server.close()


# --- webhook (/uw) pipeline fixtures ---------------------------------------------------------

UW_BASE_S = 1_763_130_600  # 2025-11-14 14:30:00 UTC = 09:30 America/New_York


class UwStagingTree:
    """Writes sealed `uw` segments whose records are made exactly as the ingest API makes them."""

    def __init__(self, staging_dir: Path) -> None:
        from gex_pipeline.lib.staging.layout import UW_STREAM, stream_dirs

        self.staging_dir = staging_dir
        self.dirs = stream_dirs(staging_dir, UW_STREAM).ensure()
        self._next_seq = time.time_ns()  # seqs are sealing times: keep them recent

    @staticmethod
    def records(messages: list[object], received_at: int = UW_BASE_S * 1000) -> list[dict]:
        """The staged records of `messages` (posted one by one), control frames dropped."""
        import json

        from gex_pipeline.lib.payloads.uw import UwControl, parse_uw

        return [
            item
            for message in messages
            for item in parse_uw(json.dumps(message), received_at)
            if not isinstance(item, UwControl)
        ]

    @staticmethod
    def messages(count: int, seed: int = 1, start_s: float = UW_BASE_S) -> list[object]:
        """`count` demo messages (`UwStream`: trades, market states, control frames)."""
        from gex_pipeline.lib.demo.uw import UwStream

        return list(UwStream(seed, start_s).messages(count))

    def seal(self, records: list[dict], seq: int | None = None):
        """Write `records` as one sealed segment (`seq`, default the next one); return its Segment."""
        import json

        from gex_pipeline.lib.staging.layout import seq_name
        from gex_pipeline.lib.staging.reader import Segment

        if seq is None:
            self._next_seq += 1_000_000
            seq = self._next_seq
        path = self.dirs.sealed / seq_name(seq)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return Segment(seq, path)


@pytest.fixture
def uw_staging(data_dir: Path) -> UwStagingTree:
    """An empty `uw` staging stream under the temp data directory, with record/segment builders."""
    return UwStagingTree(data_dir / "staging")


# --- process signals ----------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _servers_stop_on_sigint() -> None:
    """Servers started by tests stop on SIGINT even when pytest runs with SIGINT ignored (a
    background job of a script, as CI may start it): an ignored signal is inherited by children,
    a caught one is reset to its default."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# --- secrets (issue 11) ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def secrets_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp `GEX_SECRETS_DIR` for every test: no test writes a key into the real home directory.

    Not created: the store creates it (0700) on first use, as it would in a real home.
    """
    path = tmp_path_factory.mktemp("secrets-parent") / "gex-pipeline"
    monkeypatch.setenv("GEX_SECRETS_DIR", str(path))
    return path
