"""`POST /gex_history_url` (queue a historical day file) and `GET /gex_history_url/{id}` (status)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.history import parse_history_request
from gex_pipeline.lib.staging.history_store import HistoryStore, UnknownRequestId
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.body import read_body
from ingest_api.docs import REFUSALS, json_body
from ingest_api.errors import ApiError
from ingest_api.intake import now_ms

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["history"]
)


def _override_note(overrides: dict[str, str], resolved: dict[str, str]) -> str | None:
    if not overrides:
        return None
    parts = [f"{k} {v!r} from the body replaced by {resolved[k]!r}" for k, v in overrides.items()]
    return "file name wins: " + "; ".join(parts)


@router.post(
    "/gex_history_url",
    status_code=202,
    responses=REFUSALS,
    openapi_extra=json_body("`{url, ticker?, endpoint?, metadata?}`; text/plain (sendBeacon) too."),
)
async def post_history_url(request: Request) -> JSONResponse:
    """Queue the import of one day file; re-posts of the same file return the same id."""
    started = time.perf_counter()
    state = request.app.state
    body = await read_body(request, state.api_settings.max_body_history)
    parsed = parse_history_request(body, state.url_policy)
    store: HistoryStore = state.history_store
    try:
        saved = await asyncio.to_thread(store.save_request, parsed, now_ms())
    except OSError as exc:
        retry_after = {"Retry-After": str(state.api_settings.retry_after_s)}
        message = f"history request could not be saved ({exc.strerror or exc}); retry later"
        raise ApiError(503, "staging", message, retry_after) from exc
    elapsed = time.perf_counter() - started
    state.metrics.accept("/gex_history_url", "history", 1, len(body), elapsed)
    resolved = {"ticker": parsed.ticker, "endpoint": parsed.endpoint}
    answer: dict[str, Any] = {
        "status": "queued",
        "id": saved.id,
        "ticker": parsed.ticker,
        "endpoint": parsed.endpoint,
        "trade_date": parsed.trade_date.isoformat(),
        "file_name": parsed.file_name,
        "duplicate": not saved.created,
        "post_count": saved.post_count,
        "overrides": dict(parsed.overrides),
    }
    note = _override_note(dict(parsed.overrides), resolved)
    if note:
        answer["note"] = note
    return JSONResponse(answer, status_code=202)


@router.get("/gex_history_url/{request_id}", responses={404: REFUSALS[422]})
async def get_history_status(request_id: str, request: Request) -> dict[str, Any]:
    """The import status of a queued day file (`pending` until the pipeline reports)."""
    store: HistoryStore = request.app.state.history_store
    try:
        saved = await asyncio.to_thread(store.load_request, request_id)
        status = await asyncio.to_thread(store.read_status, request_id) if saved else None
    except UnknownRequestId as exc:
        raise ApiError(404, "id", "no such history request") from exc
    if saved is None:
        raise ApiError(404, "id", "no such history request")
    status = status or {"state": "pending", "rows": None, "reason": None, "updated_at": None}
    return {
        "id": saved.id,
        "state": status["state"],
        "rows": status.get("rows"),
        "reason": status.get("reason"),
        "updated_at": status.get("updated_at"),
        "url": saved.url,
        "ticker": saved.ticker,
        "endpoint": saved.endpoint,
        "trade_date": saved.trade_date.isoformat(),
        "file_name": saved.file_name,
        "post_count": saved.post_count,
        "last_posted_at": saved.last_posted_at,
    }
