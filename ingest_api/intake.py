"""Stage accepted records: encode them as JSON lines and wait until they are durable."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from gex_pipeline.lib.ops.disk import DISK_RETRY_AFTER_S, DiskGuard
from gex_pipeline.lib.staging.writer import Overloaded, SegmentWriter, StagingUnavailable
from ingest_api.errors import ApiError
from ingest_api.metrics import Metrics


def now_ms() -> int:
    """The current time as epoch milliseconds (UTC)."""
    return time.time_ns() // 1_000_000


def encode_lines(records: Sequence[dict[str, Any]]) -> bytes:
    """One newline-terminated JSON line per record."""
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records])


async def stage(
    writer: SegmentWriter,
    records: Sequence[dict[str, Any]],
    *,
    metrics: Metrics,
    disk_guard: DiskGuard,
    endpoint: str,
    retry_after_s: int,
    started: float,
) -> None:
    """Append `records` to `writer`'s stream and return once they are fsync'ed; 503 when overloaded
    or when the disk is short of `GEX_INGEST_MIN_FREE_MB`."""
    data = encode_lines(records)
    if shortage := disk_guard.shortage():  # refuse before the disk is full
        raise ApiError(
            503, "staging", f"{shortage}; retry later", {"Retry-After": str(DISK_RETRY_AFTER_S)}
        )
    retry_after = {"Retry-After": str(retry_after_s)}
    try:
        await writer.append(data, len(records))
    except Overloaded as exc:
        raise ApiError(503, "staging", f"overloaded: {exc}; retry later", retry_after) from exc
    except StagingUnavailable as exc:
        raise ApiError(503, "staging", f"{exc}; retry later", retry_after) from exc
    metrics.accept(endpoint, writer.name, len(records), len(data), time.perf_counter() - started)
