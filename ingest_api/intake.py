"""Stage accepted records: encode them as JSON lines and wait until they are durable."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request

from gex_pipeline.lib.ops.disk import DISK_RETRY_AFTER_S
from gex_pipeline.lib.staging.writer import Overloaded, SegmentWriter, StagingUnavailable
from ingest_api.errors import ApiError


def now_ms() -> int:
    """The current time as epoch milliseconds (UTC)."""
    return time.time_ns() // 1_000_000


def encode_lines(records: Sequence[dict[str, Any]]) -> bytes:
    """One newline-terminated JSON line per record."""
    return b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records])


async def stage(
    request: Request, stream: str, records: Sequence[dict[str, Any]], started: float
) -> None:
    """Append `records` to `stream` and return once they are fsync'ed; 503 when overloaded."""
    state = request.app.state
    writer: SegmentWriter = state.writers[stream]
    data = encode_lines(records)
    retry_after = {"Retry-After": str(state.api_settings.retry_after_s)}
    if shortage := state.disk_guard.shortage():  # refuse before the disk is full (issue 12)
        raise ApiError(
            503, "staging", f"{shortage}; retry later", {"Retry-After": str(DISK_RETRY_AFTER_S)}
        )
    try:
        await writer.append(data, len(records))
    except Overloaded as exc:
        raise ApiError(503, "staging", f"overloaded: {exc}; retry later", retry_after) from exc
    except StagingUnavailable as exc:
        raise ApiError(503, "staging", f"{exc}; retry later", retry_after) from exc
    endpoint = request.scope["route"].path
    state.metrics.accept(endpoint, stream, len(records), len(data), time.perf_counter() - started)
