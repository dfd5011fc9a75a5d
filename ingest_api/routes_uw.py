"""`POST /uw`: option-flow webhook messages (one message or a JSON array of messages)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.uw import UwControl, parse_uw
from gex_pipeline.lib.staging.layout import UW_STREAM
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.body import read_body
from ingest_api.deps import DiskGuardDep, MetricsDep, ParseLimiterDep, SettingsDep, WritersDep
from ingest_api.docs import REFUSALS, json_body
from ingest_api.intake import now_ms, stage
from ingest_api.offload import parse_body

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["webhooks"]
)


@router.post(
    "/uw",
    status_code=202,
    responses={200: {"description": "Only control frames: acknowledged, not stored."}, **REFUSALS},
    openapi_extra=json_body("A Phoenix 5-element array, an object message, or an array of them."),
)
async def post_uw(
    request: Request,
    settings: SettingsDep,
    writers: WritersDep,
    metrics: MetricsDep,
    limiter: ParseLimiterDep,
    disk_guard: DiskGuardDep,
) -> JSONResponse:
    """Stage every data message; control frames are acknowledged (200) and dropped."""
    started = time.perf_counter()
    body = await read_body(request, settings.api.max_body_uw, settings.api.body_timeout_s)
    items = await parse_body(
        parse_uw,
        body,
        now_ms(),
        max_batch=settings.api.uw_max_batch,
        inline_bytes=settings.api.inline_parse_bytes,
        limiter=limiter,
    )
    records = [item for item in items if not isinstance(item, UwControl)]
    controls = [item for item in items if isinstance(item, UwControl)]
    if controls:
        metrics.ignore("/uw", len(controls))
    if not records:
        return JSONResponse({"status": "ignored", "reason": controls[0].reason}, status_code=200)
    await stage(
        writers[UW_STREAM],
        records,
        metrics=metrics,
        disk_guard=disk_guard,
        endpoint="/uw",
        retry_after_s=settings.api.retry_after_s,
        started=started,
    )
    return JSONResponse(
        {
            "status": "received",
            "received": len(records),
            "ignored": len(controls),
            "ids": [r["id"] for r in records],
        },
        status_code=202,
    )
