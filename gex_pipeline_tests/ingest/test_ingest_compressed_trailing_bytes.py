"""Bytes after the end of a gzip/deflate body are refused (400 naming `body`), never dropped.

`gzip(A) + gzip(B)` or `gzip(A) + b"junk"` once answered 202 with only `A` staged, where the same
content sent uncompressed is refused 400 ("Extra data").
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gex_pipeline_tests.support.servers import IngestServer

SNAPSHOT = json.dumps({"ticker": "SPX", "timestamp": 1_763_130_600, "spot": 6734.25}).encode()


def _staged_files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "staging"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(SNAPSHOT) + gzip.compress(SNAPSHOT)),
        ("gzip", gzip.compress(SNAPSHOT) + gzip.compress(b"junk")),
        ("gzip", gzip.compress(SNAPSHOT) + b"junk"),
        ("deflate", zlib.compress(SNAPSHOT) + b"junk"),
    ],
    ids=["two-gzip-members", "gzip-member-of-junk", "gzip-then-junk", "deflate-then-junk"],
)
def test_bytes_after_the_compressed_stream_are_refused_not_dropped(
    ingest_server: Callable[..., IngestServer], data_dir: Path, encoding: str, body: bytes
) -> None:
    server = ingest_server()
    before = _staged_files(data_dir)
    answer = httpx.post(
        f"{server.base_url}/gex", content=body, headers={"Content-Encoding": encoding}, timeout=20
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["field"] == "body"
    assert _staged_files(data_dir) == before
