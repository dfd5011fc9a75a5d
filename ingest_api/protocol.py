"""uvicorn's httptools protocol with a deadline for request headers and a cap on connections.

uvicorn closes idle keep-alive connections but waits forever for the headers of a request that
has begun, and its `limit_concurrency` counts such connections: 1,000 clients that send half a
request line and stall made every real client get 503. Here a connection must complete its
headers within `GEX_INGEST_HEADER_TIMEOUT_S` of opening (or of its previous response), else it is
closed; beyond `GEX_INGEST_MAX_CONNECTIONS` open connections a new one is closed at once.
"""

from __future__ import annotations

import asyncio
import functools
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gex_pipeline.settings import Settings


@functools.cache
def _limits() -> tuple[float, int]:
    """(header timeout in s, max connections) of this process, read once from the environment.

    uvicorn builds the protocol itself (in each worker process), so it cannot be handed settings.
    """
    api = Settings.from_env(os.environ).api
    return float(api.header_timeout_s), api.max_connections


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` closing connections whose request headers do not arrive in time."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > _limits()[1]:
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(_limits()[0], self._headers_overdue)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_overdue(self) -> None:
        self._header_deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
