"""Body reading: Content-Encoding handling and the decoded-size cap."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable

SNAPSHOT = json.dumps({"ticker": "SPX", "timestamp": 1763130600, "spot": 6734.25}).encode()


def test_gzip_body_is_decoded_and_staged(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post(
        "/gex", content=gzip.compress(SNAPSHOT), headers={"Content-Encoding": "gzip"}
    )
    assert answer.status_code == 202
    assert staged("gex")[0]["ticker"] == "SPX"


def test_deflate_body_is_decoded_and_staged(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post(
        "/gex", content=zlib.compress(SNAPSHOT), headers={"Content-Encoding": "deflate"}
    )
    assert answer.status_code == 202
    assert len(staged("gex")) == 1


def test_unknown_content_encoding_is_415_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/gex", content=SNAPSHOT, headers={"Content-Encoding": "br"})
    assert answer.status_code == 415
    assert answer.json()["detail"]["field"] == "content-encoding"
    assert staged("gex") == []


def test_compressed_bomb_is_413_by_decoded_size(ingest_client: Callable, staged: Callable) -> None:
    bomb = gzip.compress(b" " * 5_000_000 + SNAPSHOT)
    client = ingest_client(GEX_INGEST_MAX_BODY_GEX="100000")
    answer = client.post("/gex", content=bomb, headers={"Content-Encoding": "gzip"})
    assert len(bomb) < 100_000
    assert answer.status_code == 413
    assert staged("gex") == []


def test_truncated_gzip_body_is_400(ingest_client: Callable, staged: Callable) -> None:
    cut = gzip.compress(SNAPSHOT)[:-12]
    answer = ingest_client().post("/gex", content=cut, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "body"
    assert staged("gex") == []
