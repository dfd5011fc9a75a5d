"""The ingest API under a real uvicorn on 127.0.0.1: durability, workers, overload, logging."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from gex_pipeline_tests.support.metrics import sample
from gex_pipeline_tests.support.servers import IngestServer


def _snapshot(n: int) -> dict[str, object]:
    return {"ticker": "SPX", "timestamp": 1763130600 + n, "spot": 6734.25, "strikes": [[6700, 1.5]]}


def _sealed_lines(data_dir: Path, stream: str = "gex") -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted((data_dir / "staging" / stream / "sealed").glob("*.jsonl")):
        data = path.read_bytes()
        assert data.endswith(b"\n"), path
        lines.extend(data.splitlines())
    return lines


def _sealed_ids(data_dir: Path) -> list[str]:
    return [json.loads(line)["id"] for line in _sealed_lines(data_dir)]


async def _post_all(base_url: str, count: int, concurrency: int) -> list[str]:
    ids: list[str] = []
    queue = list(range(count))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            answer = await client.post("/gex", json=_snapshot(queue.pop()))
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return ids


def test_graceful_stop_seals_every_acknowledged_payload(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server()
    acked = asyncio.run(_post_all(server.base_url, 40, 8))
    assert server.stop()
    assert sorted(_sealed_ids(data_dir)) == sorted(acked)
    assert list((data_dir / "staging" / "gex" / "open").iterdir()) == []


def test_two_workers_posting_concurrently_yield_valid_segments_only(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server(GEX_INGEST_WORKERS="2", GEX_INGEST_SEAL_AGE_MS="200")
    acked = asyncio.run(_post_all(server.base_url, 400, 16))
    assert server.stop()
    lines = _sealed_lines(data_dir)
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(acked)
    assert list((data_dir / "staging" / "gex" / "open").iterdir()) == []


def _pending(base_url: str) -> int:
    pending = sample(
        httpx.get(f"{base_url}/metrics").text, "gex_ingest_pending_records", stream="gex"
    )
    assert pending is not None
    return int(pending)


def test_full_queue_answers_503_with_retry_after_and_stages_nothing(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server(GEX_INGEST_QUEUE_MAX="1", GEX_INGEST_SEAL_BYTES="1")
    post = functools.partial(httpx.post, f"{server.base_url}/gex", timeout=60)
    lock_fd = os.open(data_dir / "staging" / "gex" / ".seal.lock", os.O_RDWR | os.O_CREAT)
    try:
        # With the seal lock held elsewhere, the first segment's seal blocks; the second write is
        # acknowledged and then waits for that seal, so the third request stays queued.
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        assert post(json=_snapshot(1)).status_code == 202
        assert post(json=_snapshot(2)).status_code == 202
        queued: list[httpx.Response] = []
        waiter = threading.Thread(target=lambda: queued.append(post(json=_snapshot(3))))
        waiter.start()
        deadline = time.monotonic() + 30
        while _pending(server.base_url) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = post(json=_snapshot(4))
    finally:
        os.close(lock_fd)
    waiter.join(timeout=60)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert queued[0].status_code == 202
    assert server.stop()
    timestamps = sorted(json.loads(line)["timestamp"] for line in _sealed_lines(data_dir))
    assert timestamps == [1763130601000, 1763130602000, 1763130603000]


def test_logs_never_show_token_or_signature(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    token = "tok-SHOULD-NOT-LEAK"
    server = ingest_server(GEX_INGEST_TOKEN=token)
    url = (
        "https://nfagexbotresearch.blob.core.windows.net/hist/"
        "2025-11-14_NQ_NDX_classic_gex_zero.json.gz?sv=1&sig=SIG-SHOULD-NOT-LEAK"
    )
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert client.post(f"/gex?token={token}", json=_snapshot(1)).status_code == 202
        assert client.post("/gex?token=wrong-SHOULD-NOT-LEAK", json=_snapshot(2)).status_code == 401
        history = client.post(f"/gex_history_url?token={token}", json={"url": url})
        assert history.status_code == 202
        bad = client.post(
            f"/gex_history_url?token={token}", json={"url": url.replace("https", "ftp")}
        )
        assert bad.status_code == 422
    server.stop()
    log = server.log()
    assert "refused POST /gex" in log
    assert "SHOULD-NOT-LEAK" not in log


def test_serve_refuses_non_loopback_bind_without_token(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEX_INGEST_")}
    env.update(GEX_DATA_DIR=str(data_dir), GEX_INGEST_HOST="0.0.0.0", GEX_INGEST_PORT="1")
    done = subprocess.run(
        [sys.executable, "-m", "gex_pipeline.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "GEX_INGEST_TOKEN" in done.stderr


def test_ingest_api_never_imports_duckdb() -> None:
    code = (
        "import sys, ingest_api.server\n"
        "from gex_pipeline.settings import Settings\n"
        "from ingest_api.app import create_app\n"
        "create_app(Settings.from_env())\n"
        "print(sorted(m for m in ('duckdb', 'polars', 'dagster') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_body_that_never_arrives_is_408_and_stages_nothing(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server(GEX_INGEST_BODY_TIMEOUT_S="1")
    head = b"POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")
    assert server.stop()
    assert _sealed_lines(data_dir) == []


def test_serve_warns_loudly_when_history_safety_is_relaxed(
    ingest_server: Callable[..., IngestServer],
) -> None:
    server = ingest_server(GEX_HISTORY_ALLOW_HTTP="1", GEX_HISTORY_ALLOW_PRIVATE="1")
    server.stop()
    assert "GEX_HISTORY_ALLOW_HTTP and GEX_HISTORY_ALLOW_PRIVATE on" in server.log()


def test_serve_does_not_warn_with_the_default_history_policy(
    ingest_server: Callable[..., IngestServer],
) -> None:
    server = ingest_server(GEX_HISTORY_ALLOW_HTTP="0", GEX_HISTORY_ALLOW_PRIVATE="0")
    server.stop()
    assert "GEX_HISTORY_ALLOW" not in server.log()
