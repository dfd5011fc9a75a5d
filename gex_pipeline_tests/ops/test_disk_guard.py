"""Disk-space guard: the API answers 503 + Retry-After before the disk is full, staging nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gex_pipeline.lib.ops.disk import DISK_RETRY_AFTER_S, DiskGuard

BODY = '{"ticker":"SPX","timestamp":1763130600,"spot":6734.25,"strikes":[[6700,-25.94,-8.91,[-11.9,-28.49,-55.89,-19.29,-31.29]]]}'
UW_BODY = '{"channel":"market_agg_state","payload":{"date":"2025-11-14","call_premium":"1"}}'


def test_short_disk_refuses_posts_with_retry_after_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    client = ingest_client(GEX_INGEST_MIN_FREE_MB=str(2**40))  # more than any disk has
    for path, body in (("/gex", BODY), ("/uw", UW_BODY)):
        answer = client.post(path, content=body)
        assert answer.status_code == 503, path
        assert answer.headers["Retry-After"] == str(DISK_RETRY_AFTER_S)
        assert "free disk" in answer.text
    assert staged("gex") == [] and staged("uw") == []


def test_enough_disk_accepts(ingest_client: Callable, staged: Callable) -> None:
    client = ingest_client(GEX_INGEST_MIN_FREE_MB="1")
    assert client.post("/gex", content=BODY).status_code == 202
    assert client.post("/uw", content=UW_BODY).status_code == 202
    assert len(staged("gex")) == 1 and len(staged("uw")) == 1


def test_guard_measures_at_most_once_per_interval(tmp_path: Path) -> None:
    now = [0.0]
    guard = DiskGuard(tmp_path, min_free_mb=0, interval_s=1.0, clock=lambda: now[0])
    assert guard.shortage() is None
    guard.min_free_mb = 2**40
    assert guard.shortage() is None  # cached
    now[0] = 1.0
    assert "below" in (guard.shortage() or "")
