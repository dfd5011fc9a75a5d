"""Optional shared-secret authentication (`GEX_INGEST_TOKEN`)."""

from __future__ import annotations

import hmac

from fastapi import Request

from ingest_api.deps import SettingsDep
from ingest_api.errors import ApiError


def presented_token(request: Request) -> str | None:
    """The token a client presented: `Authorization: Bearer`, `X-API-Key` or the `token` query."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or request.query_params.get("token")


async def require_token(request: Request, settings: SettingsDep) -> None:
    """Dependency: refuse (401) unless the configured token, if any, was presented."""
    expected = settings.api.token
    if expected is None:
        return
    presented = presented_token(request)
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "token", "missing or wrong token", {"WWW-Authenticate": "Bearer"})


async def require_allowed_origin(request: Request, settings: SettingsDep) -> None:
    """Dependency: refuse (403) a browser request sent from a page outside the CORS allow-list.

    Browsers attach `Origin` to cross-site POSTs, including `text/plain` ones that skip the CORS
    preflight, so without this any web page could write into a loopback ingest API. Clients that are
    not browsers send no `Origin` and are unaffected. `*` in the allow-list allows every origin.
    """
    origin = request.headers.get("origin")
    allowed = settings.api.cors_origins
    if origin is None or "*" in allowed or origin.rstrip("/").lower() in allowed:
        return
    raise ApiError(
        403, "origin", f"origin {origin[:100]!r} is not allowed (add it to GEX_INGEST_CORS_ORIGINS)"
    )
