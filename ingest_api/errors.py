"""Refusals and their HTTP answers: always `{"detail": {"field": ..., "message": ...}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gex_pipeline.lib.payloads.errors import PayloadError

logger = logging.getLogger("ingest_api")


class ApiError(Exception):
    """A refusal raised by the API itself (auth, size, overload, unknown id)."""

    def __init__(
        self, status: int, field: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message
        self.headers = headers


def endpoint_label(request: Request) -> str:
    """The route path template of `request` (a fixed set, safe as a metrics label)."""
    route = request.scope.get("route")
    return getattr(route, "path", "other")


def _refusal(request: Request, status: int, field: str, message: str) -> JSONResponse:
    endpoint = endpoint_label(request)
    request.app.state.metrics.reject(endpoint, status)
    logger.info("refused %s %s: %s %s: %s", request.method, endpoint, status, field, message)
    return JSONResponse({"detail": {"field": field, "message": message}}, status_code=status)


async def _on_payload_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadError)
    return _refusal(request, exc.status, exc.field, exc.message)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = _refusal(request, exc.status, exc.field, exc.message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Map `PayloadError` and `ApiError` to their status with a body naming the field."""
    app.add_exception_handler(PayloadError, _on_payload_error)
    app.add_exception_handler(ApiError, _on_api_error)
