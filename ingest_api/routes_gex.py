"""`POST /gex`: one live GEX snapshot."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.staging.layout import GEX_STREAM
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.body import read_body
from ingest_api.docs import REFUSALS, json_body
from ingest_api.intake import now_ms, stage

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["live"]
)


@router.post(
    "/gex",
    status_code=202,
    responses=REFUSALS,
    openapi_extra=json_body("A flat snapshot, an envelope, or either double-encoded as a string."),
)
async def post_gex(request: Request) -> JSONResponse:
    """Stage one snapshot; 202 once it is fsync'ed in the staging area."""
    started = time.perf_counter()
    body = await read_body(request, request.app.state.api_settings.max_body_gex)
    record = parse_gex(body, now_ms())
    await stage(request, GEX_STREAM, [record], started)
    return JSONResponse(
        {
            "status": "ok",
            "ticker": record["ticker"],
            "endpoint": record["endpoint"],
            "id": record["id"],
        },
        status_code=202,
    )
