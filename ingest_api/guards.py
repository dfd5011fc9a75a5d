"""ASGI guards in front of the app when it is served: the `Host` check and the in-flight limit.

- `Host` must name this server (configured names, loopback names, the bind address, the machine's
  host name; in LAN mode also `<host name>.local` and any IP address, see `lan.py`): a page on
  another domain that re-binds its name to 127.0.0.1 (DNS rebinding) is refused 421 before it can
  read `/metrics` or a status page. The refusal says which setting admits the name.
- At most `max_in_flight` requests are handled at once (503 with `Retry-After` beyond). Unlike
  uvicorn's `limit_concurrency`, idle and stalled connections do not count: only requests whose
  headers arrived.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest_api.lan import is_address, lan_host_names
from ingest_api.metrics import Metrics

LOOPBACK_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", "[::]", ""})
_ENDPOINTS = frozenset({"/gex", "/uw", "/gex_history_url", "/health", "/ready", "/metrics"})


def served_host_names(
    configured: Iterable[str], bind_host: str, lan: bool = False
) -> frozenset[str] | None:
    """Host names the server answers to; None when `*` allows any (no check)."""
    names = {name.strip().lower() for name in configured if name.strip()}
    if "*" in names:
        return None
    names.update(LOOPBACK_NAMES)
    if lan:
        names.update(lan_host_names())
    bind = bind_host.strip().lower()
    if bind not in _WILDCARD_BINDS:
        names.add(f"[{bind.strip('[]')}]" if ":" in bind else bind)
    names.add(socket.gethostname().lower())
    return frozenset(names)


def host_name(header: str) -> str:
    """The name part of a `Host` header (port dropped, IPv6 kept in brackets), lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.partition(":")[0].rstrip(".")


class ServeGuard:
    """Refuses wrong `Host` headers (421) and requests beyond `max_in_flight` (503)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: frozenset[str] | None,
        lan: bool = False,
        max_in_flight: int,
        retry_after_s: int,
        metrics: Metrics,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.lan = lan
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.hosts is not None:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            name = host_name(host)
            if name not in self.hosts and not (self.lan and is_address(name)):
                await self._refuse(scope, send, 421, "host", self._host_refusal(host), {})
                return
        if self.in_flight >= self.max_in_flight:
            message = f"more than {self.max_in_flight} requests in flight; retry later"
            retry = {"retry-after": str(self.retry_after_s)}
            await self._refuse(scope, send, 503, "concurrency", message, retry)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _host_refusal(self, host: str) -> str:
        message = f"{host[:100]!r} is not a name of this server: add it to GEX_INGEST_ALLOWED_HOSTS"
        if self.lan:
            return message
        return (
            message + " (or set GEX_INGEST_LAN=1 to admit this machine's LAN names and addresses)"
        )

    async def _refuse(
        self, scope: Scope, send: Send, status: int, field: str, message: str, extra: dict[str, str]
    ) -> None:
        path = scope.get("path", "")
        self.metrics.reject(path if path in _ENDPOINTS else "other", status)
        body = orjson.dumps({"detail": {"field": field, "message": message}})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
