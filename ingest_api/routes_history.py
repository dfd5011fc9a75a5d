"""`POST /gex_history_url` (queue a historical day file) and `GET /gex_history_url/{id}` (status)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.history import HistoryRequest, parse_history_request
from gex_pipeline.lib.staging.history_store import (
    HistoryStore,
    LinkAlreadyFailed,
    SavedRequest,
    TooManyPending,
    UnknownRequestId,
)
from gex_pipeline.settings import Settings
from ingest_api.auth import require_allowed_origin, require_token
from ingest_api.body import read_body
from ingest_api.deps import (
    HistoryBoundsDep,
    HistoryStoreDep,
    MetricsDep,
    SettingsDep,
    UrlPolicyDep,
)
from ingest_api.docs import REFUSALS, json_body
from ingest_api.errors import ApiError
from ingest_api.history_bounds import HistoryBounds
from ingest_api.intake import now_ms

router = APIRouter(
    dependencies=[Depends(require_allowed_origin), Depends(require_token)], tags=["history"]
)
DAY_MS = 86_400_000


def _override_note(overrides: dict[str, str], resolved: dict[str, str]) -> str | None:
    if not overrides:
        return None
    parts = [f"{k} {v!r} from the body replaced by {resolved[k]!r}" for k, v in overrides.items()]
    return "file name wins: " + "; ".join(parts)


def _save(
    store: HistoryStore, parsed: HistoryRequest, settings: Settings, bounds: HistoryBounds
) -> SavedRequest:
    """Prune finished requests (at most once a minute), then save `parsed` within the bounds."""
    now = now_ms()
    if settings.history.retention_days and bounds.prune_due():
        store.prune_finished(now, settings.history.retention_days * DAY_MS)
    return store.save_request(parsed, now, max_pending=settings.history.max_pending)


@router.post(
    "/gex_history_url",
    status_code=202,
    responses={
        **REFUSALS,
        409: {"description": "Re-post of a link that already failed (field `url`)."},
        429: {"description": "Too many posts per minute or requests pending (`Retry-After`)."},
    },
    openapi_extra=json_body("`{url, ticker?, endpoint?, metadata?}`; text/plain (sendBeacon) too."),
)
async def post_history_url(
    request: Request,
    settings: SettingsDep,
    store: HistoryStoreDep,
    policy: UrlPolicyDep,
    metrics: MetricsDep,
    bounds: HistoryBoundsDep,
) -> JSONResponse:
    """Queue the import of one day file; re-posts of the same file return the same id."""
    started = time.perf_counter()
    body = await read_body(request, settings.api.max_body_history, settings.api.body_timeout_s)
    parsed = parse_history_request(body, policy)
    if not bounds.try_post():
        limit = settings.history.max_per_minute
        raise ApiError(
            429,
            "url",
            f"more than {limit} history links posted in the last minute; retry later",
            {"Retry-After": str(bounds.retry_after())},
        )
    retry_after = {"Retry-After": str(settings.api.retry_after_s)}
    try:
        saved = await asyncio.to_thread(_save, store, parsed, settings, bounds)
    except LinkAlreadyFailed as exc:
        raise ApiError(
            409, "url", "this signed link already failed; post a fresh link from the vendor's site"
        ) from exc
    except TooManyPending as exc:
        message = f"{exc}; retry when some have been imported"
        raise ApiError(429, "url", message, {"Retry-After": "60"}) from exc
    except OSError as exc:
        message = f"history request could not be saved ({exc.strerror or exc}); retry later"
        raise ApiError(503, "staging", message, retry_after) from exc
    metrics.accept("/gex_history_url", "history", 1, len(body), time.perf_counter() - started)
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
async def get_history_status(request_id: str, store: HistoryStoreDep) -> dict[str, Any]:
    """The import status of a queued day file (`pending` until the pipeline reports)."""
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
