"""Run the ingest API under uvicorn (`gex-pipeline serve`)."""

from __future__ import annotations

import copy
import ipaddress
import logging
import os
import sys
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.settings import ApiSettings, Settings
from ingest_api.app import create_app
from ingest_api.cors import BrowserCors
from ingest_api.guards import ServeGuard, served_host_names
from ingest_api.lan import exposure_lines
from ingest_api.protocol import GuardedHttpToolsProtocol

logger = logging.getLogger("ingest_api")

GRACEFUL_SHUTDOWN_SECONDS = 30
# While a large body is parsed in a thread, the event loop waits for the GIL up to this long at
# each switch (Python's default, 5 ms, added up to 100-270 ms per request under hostile bodies).
GIL_SWITCH_INTERVAL_S = 0.0005


class UnsafeBind(RuntimeError):
    """Binding to a non-loopback address without a token and without explicit permission."""


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(api: ApiSettings) -> None:
    """Refuse a non-loopback bind without `GEX_INGEST_TOKEN` unless `GEX_INGEST_LAN=1` or
    `GEX_INGEST_ALLOW_REMOTE=1`."""
    host = api.host
    if is_loopback(host) or api.token or api.allow_remote or api.lan:
        return
    raise UnsafeBind(
        f"refusing to bind {host}: anyone on the network could post data. Set GEX_INGEST_LAN=1 "
        "for userscripts on your network (web pages still limited to GEX_INGEST_CORS_ORIGINS), "
        "GEX_INGEST_TOKEN to require a token, or GEX_INGEST_ALLOW_REMOTE=1 to accept "
        "unauthenticated remote clients."
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration plus INFO logs of the app (`ingest_api`, `gex_pipeline`)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("ingest_api", "gex_pipeline"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve_app(settings: Settings | None = None) -> BrowserCors:
    """The app as served: `create_app` behind the `Host` check and the in-flight limit, all of it
    behind CORS (so browsers can read every refusal). Without `settings` (the factory of each
    uvicorn worker process) they come from the environment."""
    settings = settings or Settings.from_env(os.environ)
    api = settings.api
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app = create_app(settings, cors=False)
    guarded = ServeGuard(
        app,
        hosts=served_host_names(api.allowed_hosts, api.host, api.lan),
        lan=api.lan,
        max_in_flight=api.max_concurrency,
        retry_after_s=api.retry_after_s,
        metrics=app.state.metrics,
    )
    return BrowserCors(guarded, api=api, metrics=app.state.metrics)


def run_server(settings: Settings) -> int:
    """Serve the ingest API on the configured host and port until interrupted; exit status."""
    api = settings.api
    try:
        check_bind(api)
    except UnsafeBind as exc:
        print(f"gex-pipeline serve: {exc}", file=sys.stderr)
        return 2
    if api.lan:
        print("\n".join(exposure_lines(api)), file=sys.stderr, flush=True)
    elif not is_loopback(api.host) and not api.token:
        logger.warning("serving %s without a token (GEX_INGEST_ALLOW_REMOTE=1)", api.host)
    if hatches := UrlPolicy.from_settings(settings.history).escape_hatches():
        logger.warning(
            "%s on: history links may use plain http or private addresses (local mirrors and "
            "tests only)",
            " and ".join(hatches),
        )
    options = {
        "host": api.host,
        "port": api.port,
        # uvicorn's access log prints the query string (the `token` parameter): refusals are
        # logged by the app with the route template instead.
        "access_log": False,
        "log_level": "info",
        "log_config": log_config(),
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "timeout_keep_alive": api.keepalive_s,
        # Header deadline and connection cap; requests in flight are limited by `ServeGuard`.
        "http": GuardedHttpToolsProtocol,
    }
    if api.workers > 1:
        # Each worker process builds its own app (and writer, with its own open segment) from the
        # environment, which is where `settings` came from.
        uvicorn.run("ingest_api.server:serve_app", factory=True, workers=api.workers, **options)
    else:
        uvicorn.run(serve_app(settings), **options)
    return 0
