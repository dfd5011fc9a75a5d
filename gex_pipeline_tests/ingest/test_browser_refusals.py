"""Browsers can read every answer: CORS headers on refusals from the guards that run before
routing, private-network preflights granted to allowed origins, nothing opened to other pages."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.servers import IngestServer
from ingest_api.server import serve_app

PAGE = "https://unusualwhales.com"
SNAPSHOT = {"ticker": "SPX", "timestamp": 1763130600, "spot": 6734.25}
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


@pytest.fixture
def served(data_dir, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """Factory: the app as served (`serve_app`: CORS around the guards), in process."""
    for name in [k for k in __import__("os").environ if k.startswith("GEX_INGEST_")]:
        monkeypatch.delenv(name)
    with contextlib.ExitStack() as stack:

        def make(**env: str) -> TestClient:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            client = TestClient(serve_app(Settings.from_env()), raise_server_exceptions=False)
            return stack.enter_context(client)

        yield make


def test_host_refusal_is_readable_by_an_allowed_page(served: Callable) -> None:
    # before: 421 without Access-Control-Allow-Origin, the page saw "Failed to fetch"
    answer = served().post("/uw", json=SNAPSHOT, headers={"Origin": PAGE})
    assert answer.status_code == 421
    assert answer.headers["access-control-allow-origin"] == PAGE
    detail = answer.json()["detail"]
    assert detail["field"] == "host"
    assert "GEX_INGEST_ALLOWED_HOSTS" in detail["message"]
    assert "GEX_INGEST_LAN=1" in detail["message"]


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
def test_refusals_stay_unreadable_for_other_pages(served: Callable, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}
    answer = served().post("/uw", json=SNAPSHOT, headers=headers)
    assert answer.status_code == 421
    assert "access-control-allow-origin" not in answer.headers


def test_private_network_preflight_from_an_allowed_page_is_granted(served: Callable) -> None:
    # before: 400 "Disallowed CORS private-network"
    client = served()
    answer = client.options(
        "/uw", headers={**PREFLIGHT, "Access-Control-Request-Private-Network": "true"}
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert answer.headers["access-control-allow-private-network"] == "true"
    assert "POST" in answer.headers["access-control-allow-methods"]


def test_private_network_preflight_from_another_page_is_refused(served: Callable) -> None:
    client = served(GEX_INGEST_ALLOWED_HOSTS="testserver")
    answer = client.options(
        "/uw",
        headers={
            **PREFLIGHT,
            "Origin": "https://evil.example",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    client.options("/uw", headers=PREFLIGHT)
    metrics = client.get("/metrics").text
    assert 'gex_ingest_preflights_total{result="allowed"} 1' in metrics
    assert 'gex_ingest_preflights_total{result="refused"} 1' in metrics


def test_post_of_a_foreign_page_is_still_refused_unreadable(served: Callable, staged) -> None:
    client = served(GEX_INGEST_ALLOWED_HOSTS="testserver")
    answer = client.post("/gex", json=SNAPSHOT, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    assert staged("gex") == []


@pytest.mark.parametrize(
    ("env", "path", "body", "status"),
    [
        ({"GEX_INGEST_MAX_BODY_UW": "64"}, "/uw", b"[" + b" " * 100 + b"]", 413),
        ({"GEX_INGEST_TOKEN": "a-token-of-sixteen-chars"}, "/gex", b"{}", 401),
        ({}, "/gex", b'{"ticker": ""}', 422),
    ],
)
def test_refusals_of_the_routes_are_readable(
    served: Callable, env: dict[str, str], path: str, body: bytes, status: int
) -> None:
    client = served(GEX_INGEST_ALLOWED_HOSTS="testserver", **env)
    answer = client.post(path, content=body, headers={"Origin": PAGE})
    assert answer.status_code == status
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert answer.json()["detail"]["field"]


def test_rate_limit_says_when_to_retry_in_a_header_the_page_may_read(served: Callable) -> None:
    client = served(GEX_INGEST_ALLOWED_HOSTS="testserver", GEX_HISTORY_MAX_PER_MINUTE="1")
    url = "https://hist.gex.bot/2025-11-14_NQ_NDX_classic_gex_zero.json.gz?sig=abc"
    answers = [
        client.post("/gex_history_url", json={"url": url}, headers={"Origin": PAGE})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [202, 429]
    assert answers[1].headers["access-control-allow-origin"] == PAGE
    assert "Retry-After" in answers[1].headers["access-control-expose-headers"]


def test_unexpected_error_is_readable_too(served: Callable) -> None:
    client = served(GEX_INGEST_ALLOWED_HOSTS="testserver")

    def broken() -> None:
        raise RuntimeError("boom")

    client.app.app.app.add_api_route("/broken", broken)  # CORS -> guards -> FastAPI
    answer = client.get("/broken", headers={"Origin": PAGE})
    assert answer.status_code == 500
    assert answer.headers["access-control-allow-origin"] == PAGE


def _half_sent_post(port: int) -> socket.socket:
    """A connection that sent the headers of a POST and half its body (a request in flight)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /uw HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + PAGE.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[1, 2"
    )  # fmt: skip
    return sock


def test_in_flight_limit_and_body_timeout_are_readable(ingest_server: Callable) -> None:
    server: IngestServer = ingest_server(
        GEX_INGEST_MAX_CONCURRENCY="1", GEX_INGEST_BODY_TIMEOUT_S="2"
    )
    stalled = _half_sent_post(server.port)
    try:
        time.sleep(0.5)  # its headers are in: it holds the one request slot
        busy = httpx.post(f"{server.base_url}/uw", json=SNAPSHOT, headers={"Origin": PAGE})
        assert (busy.status_code, busy.json()["detail"]["field"]) == (503, "concurrency")
        assert busy.headers["access-control-allow-origin"] == PAGE
        stalled.settimeout(10)
        answer = stalled.recv(65536).decode("latin-1")
    finally:
        stalled.close()
    assert answer.startswith("HTTP/1.1 408")
    assert f"access-control-allow-origin: {PAGE}" in answer.lower()
