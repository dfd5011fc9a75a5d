"""Server bugs found from the outside (issue 3), left failing for the integrator to fix.

- A `Content-Encoding` the server does not decode must be answered 415 (RFC 9110 section 8.4) or
  decoded; today the compressed bytes are parsed as JSON and refused 400 "body is not valid UTF-8",
  which tells the client its JSON is broken when it is not.
- A client that hangs up in the middle of its body is a client event; today `read_body` lets
  starlette's `ClientDisconnect` escape, uvicorn logs "Exception in ASGI application" with a
  traceback (its 500 path) for every poller that times out.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gex_pipeline_tests.conftest import IngestServer

SNAPSHOT = {"ticker": "SPX", "timestamp": 1_763_130_600, "spot": 6734.25}


def _staged_files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "staging"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_content_encoded_body_is_decoded_or_refused_415(
    ingest_server: Callable[..., IngestServer],
    data_dir: Path,
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    server = ingest_server()
    before = _staged_files(data_dir)
    answer = httpx.post(
        f"{server.base_url}/gex",
        content=compress(json.dumps(SNAPSHOT).encode()),
        headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
        timeout=20,
    )
    if answer.status_code == 202:
        assert answer.json()["ticker"] == "SPX"
        return
    assert answer.status_code == 415, answer.text
    assert "encoding" in answer.json()["detail"]["field"].lower()
    assert _staged_files(data_dir) == before


def test_client_hanging_up_mid_body_is_not_logged_as_a_server_error(
    ingest_server: Callable[..., IngestServer], data_dir: Path
) -> None:
    server = ingest_server()
    data = json.dumps(SNAPSHOT).encode()
    head = f"POST /gex HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data) + 50}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    assert httpx.get(f"{server.base_url}/health", timeout=20).status_code == 200
    time.sleep(0.2)  # let the log line of the abandoned request reach the file
    assert server.stop()
    log = server.log()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log
    assert list((data_dir / "staging" / "gex" / "sealed").glob("*.jsonl")) == []
