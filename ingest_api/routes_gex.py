"""`POST /gex`: one live GEX snapshot."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.staging.layout import GEX_STREAM
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.body import read_body
from ingest_api.deps import DiskGuardDep, MetricsDep, ParseLimiterDep, SettingsDep, WritersDep
from ingest_api.docs import REFUSALS, json_body
from ingest_api.intake import now_ms, stage
from ingest_api.offload import parse_body

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["live"]
)


@router.post(
    "/gex",
    status_code=202,
    responses=REFUSALS,
    openapi_extra=json_body("A flat snapshot, an envelope, or either double-encoded as a string."),
)
async def post_gex(
    request: Request,
    settings: SettingsDep,
    writers: WritersDep,
    metrics: MetricsDep,
    limiter: ParseLimiterDep,
    disk_guard: DiskGuardDep,
) -> JSONResponse:
    """Stage one snapshot; 202 once it is fsync'ed in the staging area."""
    started = time.perf_counter()
    body = await read_body(request, settings.api.max_body_gex, settings.api.body_timeout_s)
    record = await parse_body(
        parse_gex,
        body,
        now_ms(),
        max_strikes=settings.api.max_strikes,
        inline_bytes=settings.api.inline_parse_bytes,
        limiter=limiter,
    )
    await stage(
        writers[GEX_STREAM],
        [record],
        metrics=metrics,
        disk_guard=disk_guard,
        endpoint="/gex",
        retry_after_s=settings.api.retry_after_s,
        started=started,
    )
    return JSONResponse(
        {
            "status": "ok",
            "ticker": record["ticker"],
            "endpoint": record["endpoint"],
            "id": record["id"],
        },
        status_code=202,
    )
