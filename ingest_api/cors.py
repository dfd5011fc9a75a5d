"""CORS for browser clients (userscripts on the vendors' pages) on every answer of the server.

As served (`server.serve_app`), this layer wraps everything else, including the guards that run
before routing (`Host` check, in-flight limit) and the 500 of an unexpected error, so a page of an
allowed origin can read the status and the JSON reason of any refusal instead of "Failed to fetch".
Preflights are answered here, before the guards (they carry no data and change nothing); one that
asks for private-network access (`Access-Control-Request-Private-Network: true`, sent by Chrome
versions with Private Network Access when a public page calls a LAN or loopback address) from an
allowed origin is granted it. Answered and refused preflights are counted in the metrics: a
refused one is otherwise seen only in the browser.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from gex_pipeline.settings import ApiSettings
from ingest_api.metrics import Metrics

ALLOWED_METHODS = ("GET", "POST", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "X-API-Key", "Content-Type")
# Readable by the page besides the CORS-safelisted ones: when to retry, which auth is wanted.
EXPOSED_HEADERS = ("Retry-After", "WWW-Authenticate")


class BrowserCors(CORSMiddleware):
    """Starlette's CORS middleware for `GEX_INGEST_CORS_ORIGINS`, granting private-network
    access to allowed origins and counting preflights."""

    def __init__(self, app: ASGIApp, *, api: ApiSettings, metrics: Metrics) -> None:
        super().__init__(
            app,
            allow_origins=list(api.cors_origins),
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_private_network=True,
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
        self.metrics = metrics

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        self.metrics.preflight(allowed=response.status_code == 200)
        return response
