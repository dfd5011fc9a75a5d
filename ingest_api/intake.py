"""The intake path of live posts (`/gex`, `/uw`): read the body within its bound, parse it (off the
event loop when large), stage the records as JSON lines and answer once they are durable."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import Depends, Request

from gex_pipeline.lib.ops.disk import DISK_RETRY_AFTER_S, DiskGuard
from gex_pipeline.lib.staging.writer import Overloaded, SegmentWriter, StagingUnavailable
from gex_pipeline.settings import Settings
from ingest_api.body import read_body
from ingest_api.deps import DiskGuardDep, MetricsDep, ParseLimiterDep, SettingsDep, WritersDep
from ingest_api.errors import ApiError
from ingest_api.metrics import Metrics
from ingest_api.offload import parse_body

T = TypeVar("T")


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


@dataclass
class Intake:
    """One live post on its way to the staging area; a dependency of the `/gex` and `/uw` routes.

    `parse` reads the body (at most `max_body` bytes, within `GEX_INGEST_BODY_TIMEOUT_S`) and
    parses it with the arrival time; `stage` makes the records durable in a stream and counts them
    with the time since the post arrived.
    """

    request: Request
    settings: Settings
    writers: Mapping[str, SegmentWriter]
    metrics: Metrics
    limiter: anyio.CapacityLimiter
    disk_guard: DiskGuard
    started: float = field(default_factory=time.perf_counter)

    async def parse(self, parse: Callable[..., T], max_body: int, **options: Any) -> T:
        """`parse(body, arrival_ms, **options)` of the request's body."""
        body = await read_body(self.request, max_body, self.settings.api.body_timeout_s)
        return await parse_body(
            parse,
            body,
            now_ms(),
            inline_bytes=self.settings.api.inline_parse_bytes,
            limiter=self.limiter,
            **options,
        )

    async def stage(self, stream: str, records: Sequence[dict[str, Any]], endpoint: str) -> None:
        """Stage `records` in `stream` (503 when the staging area cannot take them now)."""
        await stage(
            self.writers[stream],
            records,
            metrics=self.metrics,
            disk_guard=self.disk_guard,
            endpoint=endpoint,
            retry_after_s=self.settings.api.retry_after_s,
            started=self.started,
        )


async def get_intake(
    request: Request,
    settings: SettingsDep,
    writers: WritersDep,
    metrics: MetricsDep,
    limiter: ParseLimiterDep,
    disk_guard: DiskGuardDep,
) -> Intake:
    """The intake of this request (`async`: FastAPI resolves it on the event loop)."""
    return Intake(request, settings, writers, metrics, limiter, disk_guard)


IntakeDep = Annotated[Intake, Depends(get_intake)]
