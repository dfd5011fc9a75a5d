"""`POST /gex`: one live GEX snapshot."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.staging.layout import GEX_STREAM
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.docs import REFUSALS, json_body
from ingest_api.intake import IntakeDep

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["live"]
)


@router.post(
    "/gex",
    status_code=202,
    responses=REFUSALS,
    openapi_extra=json_body("A flat snapshot, an envelope, or either double-encoded as a string."),
)
async def post_gex(intake: IntakeDep) -> JSONResponse:
    """Stage one snapshot; 202 once it is fsync'ed in the staging area."""
    api = intake.settings.api
    record = await intake.parse(parse_gex, api.max_body_gex, max_strikes=api.max_strikes)
    await intake.stage(GEX_STREAM, [record], "/gex")
    return JSONResponse(
        {
            "status": "ok",
            "ticker": record["ticker"],
            "endpoint": record["endpoint"],
            "id": record["id"],
        },
        status_code=202,
    )
