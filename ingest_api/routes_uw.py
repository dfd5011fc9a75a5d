"""`POST /uw`: option-flow webhook messages (one message or a JSON array of messages)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.uw import UwControl, parse_uw
from gex_pipeline.lib.staging.layout import UW_STREAM
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.docs import REFUSALS, json_body
from ingest_api.intake import IntakeDep

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["webhooks"]
)


@router.post(
    "/uw",
    status_code=202,
    responses={200: {"description": "Only control frames: acknowledged, not stored."}, **REFUSALS},
    openapi_extra=json_body("A Phoenix 5-element array, an object message, or an array of them."),
)
async def post_uw(intake: IntakeDep) -> JSONResponse:
    """Stage every data message; control frames are acknowledged (200) and dropped."""
    api = intake.settings.api
    items = await intake.parse(parse_uw, api.max_body_uw, max_batch=api.uw_max_batch)
    records = [item for item in items if not isinstance(item, UwControl)]
    controls = [item for item in items if isinstance(item, UwControl)]
    if controls:
        intake.metrics.ignore("/uw", len(controls))
    if not records:
        return JSONResponse({"status": "ignored", "reason": controls[0].reason}, status_code=200)
    await intake.stage(UW_STREAM, records, "/uw")
    return JSONResponse(
        {
            "status": "received",
            "received": len(records),
            "ignored": len(controls),
            "ids": [r["id"] for r in records],
        },
        status_code=202,
    )
