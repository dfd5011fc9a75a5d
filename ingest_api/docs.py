"""OpenAPI fragments shared by the routes (bodies are read raw, so FastAPI cannot infer them)."""

from __future__ import annotations

from typing import Any

_REFUSAL = {
    "content": {
        "application/json": {
            "example": {"detail": {"field": "ticker", "message": "missing or empty"}}
        }
    }
}

REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body is not JSON (field `body`).", **_REFUSAL},
    401: {"description": "Token required and missing or wrong (field `token`).", **_REFUSAL},
    413: {"description": "Body larger than the endpoint's limit (field `body`).", **_REFUSAL},
    415: {"description": "Content-Encoding other than gzip/deflate.", **_REFUSAL},
    422: {"description": "Valid JSON of the wrong shape or value; `field` names it.", **_REFUSAL},
    503: {
        "description": "Staging overloaded or unavailable; retry after `Retry-After`.",
        **_REFUSAL,
    },
}


def json_body(description: str) -> dict[str, Any]:
    """`openapi_extra` documenting a raw JSON body (any Content-Type is parsed as JSON)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {}}, "text/plain": {"schema": {}}},
        }
    }
