"""Outside-in (real uvicorn on 127.0.0.1): Host check, history bounds, legacy and empty snapshots.

Every refusal names its field and leaves the data directory byte for byte as it was.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline_tests.support.metrics import sample
from gex_pipeline_tests.support.servers import IngestServer

pytestmark = pytest.mark.e2e

TS_S = 1_763_130_600
BLOB = "https://nfagexbotresearch.blob.core.windows.net/hist/"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    }


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def server(ingest_server: Callable[..., IngestServer]) -> Iterator[IngestServer]:
    yield ingest_server(GEX_HISTORY_MAX_PER_MINUTE="4", GEX_HISTORY_MAX_PENDING="2")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8877", "127.0.0.2", ""])
def test_request_with_a_foreign_host_is_421_naming_host(
    server: IngestServer, data_dir: Path, host: str
) -> None:
    before = _files(data_dir)
    for path in (b"GET /metrics", b"GET /ready"):
        answer = _raw(
            server.port,
            path + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 421"), answer[:200]
        assert b'"field":"host"' in answer
    assert _files(data_dir) == before
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert (
        sample(metrics, "gex_ingest_rejected_total", endpoint="/metrics", reason="wrong_host") == 1
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:8877", "LOCALHOST", "[::1]:1"])
def test_request_naming_this_server_is_served(server: IngestServer, host: str) -> None:
    answer = _raw(
        server.port,
        b"GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode(),
    )
    assert answer.startswith(b"HTTP/1.1 200")


def test_snapshot_without_market_data_is_422_and_stages_nothing(
    server: IngestServer, data_dir: Path
) -> None:
    before = _files(data_dir)
    answer = httpx.post(f"{server.base_url}/gex", json={"ticker": "SPX", "timestamp": TS_S})
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"] == "body"
    assert _files(data_dir) == before


def test_legacy_snapshot_is_staged_with_nothing_lost(
    server: IngestServer, staged: Callable[[str], list[dict[str, object]]]
) -> None:
    body = {
        "ticker": "spx",
        "max_priors": [6740, 6735],
        "strikes": [{"strike": 6700, "gamma": 1.5, "oi_gamma": 2.0, "call_gex": 9.0}],
    }
    answer = httpx.post(f"{server.base_url}/gex", json=body)
    assert answer.status_code == 202, answer.text
    (record,) = staged("gex")
    assert record["max_priors"] == [[6740.0, None], [6735.0, None]]
    assert record["strikes"] == [[6700.0, 1.5, 2.0, None]]
    assert record["extra"] == {"strike_row_fields": [[0, {"call_gex": 9.0}]]}
    assert record["timestamp_source"] == "arrival"


def _link(day: int, sig: str) -> dict[str, str]:
    return {
        "url": f"{BLOB}2025-11-{day:02d}_SPX_classic.json.gz?sv=1&sig={sig}",
        "gex_type": "gex_zero",
    }


def test_history_posts_beyond_the_pending_bound_are_429_and_change_nothing(
    server: IngestServer, data_dir: Path
) -> None:
    post = lambda body: httpx.post(f"{server.base_url}/gex_history_url", json=body)  # noqa: E731
    assert post(_link(10, "A")).status_code == 202
    assert post(_link(11, "B")).status_code == 202
    before = _files(data_dir)
    refused = post(_link(12, "C"))
    assert refused.status_code == 429 and refused.json()["detail"]["field"] == "url"
    assert refused.headers["retry-after"]
    assert _files(data_dir) == before


def test_history_posts_beyond_the_rate_are_429_with_retry_after(
    server: IngestServer, data_dir: Path
) -> None:
    post = lambda body: httpx.post(f"{server.base_url}/gex_history_url", json=body)  # noqa: E731
    answers = [post(_link(10, f"S{n}")).status_code for n in range(4)]
    assert answers == [202] * 4
    before = _files(data_dir)
    refused = post(_link(10, "S5"))
    assert refused.status_code == 429 and "last minute" in refused.json()["detail"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert _files(data_dir) == before


def test_repost_of_a_failed_link_is_409_and_keeps_the_waiting_one(
    server: IngestServer, data_dir: Path, secrets_dir: Path
) -> None:
    post = lambda body: httpx.post(f"{server.base_url}/gex_history_url", json=body)  # noqa: E731
    first = post(_link(10, "EXPIRED"))
    request_id = first.json()["id"]
    store = HistoryStore(data_dir, secrets_dir)
    stored = store.load_request(request_id)
    assert stored is not None
    store.write_status(request_id, "failed", now_ms=1, url_hash=stored.url_hash)
    assert post(_link(10, "FRESH")).status_code == 202
    before = _files(data_dir)
    refused = post(_link(10, "EXPIRED"))
    assert refused.status_code == 409 and refused.json()["detail"]["field"] == "url"
    assert "EXPIRED" not in refused.text
    assert _files(data_dir) == before
    kept = store.load_request(request_id)
    assert kept is not None and kept.signed_url is not None and kept.signed_url.endswith("FRESH")


def test_the_key_of_signed_links_is_kept_outside_the_data_dir(
    server: IngestServer, data_dir: Path, secrets_dir: Path
) -> None:
    assert httpx.post(f"{server.base_url}/gex_history_url", json=_link(10, "K")).status_code == 202
    assert (secrets_dir / "history_url.key").exists()
    assert not [p for p in data_dir.rglob("*.key")]


def test_requests_beyond_the_in_flight_limit_are_503_while_idle_connections_do_not_count(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server(GEX_INGEST_MAX_CONCURRENCY="1")
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(5)]
    assert httpx.get(f"{server.base_url}/health").status_code == 200
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as busy:
        # headers complete, body pending: this request is in flight until its body arrives
        busy.sendall(b"POST /gex HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        deadline = time.monotonic() + 10
        refused = httpx.get(f"{server.base_url}/health")
        while refused.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            refused = httpx.get(f"{server.base_url}/health")
        assert refused.status_code == 503
        assert refused.json()["detail"]["field"] == "concurrency"
        assert refused.headers["retry-after"] == "1"
    for sock in idle:
        sock.close()
