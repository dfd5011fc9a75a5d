"""FastAPI application factory: routers, error mapping, CORS and the staging writers' lifecycle."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from gex_pipeline import __version__
from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.lib.ops.disk import DiskGuard
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline.lib.staging.layout import STREAMS, stream_dirs
from gex_pipeline.lib.staging.writer import SegmentWriter
from gex_pipeline.settings import Settings
from ingest_api import routes_gex, routes_history, routes_ops, routes_uw
from ingest_api.cors import BrowserCors
from ingest_api.errors import install_error_handlers
from ingest_api.history_bounds import HistoryBounds
from ingest_api.metrics import Metrics

logger = logging.getLogger("ingest_api")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Recover orphaned segments and start the writers; on shutdown flush and seal them."""
    settings: Settings = app.state.settings
    if not settings.api.fsync:
        logger.warning(
            "GEX_INGEST_FSYNC=0: acknowledged payloads are NOT durable (benchmarks only)"
        )
    app.state.parse_limiter = anyio.CapacityLimiter(settings.api.parse_threads)
    started: list[SegmentWriter] = []
    try:
        for writer in app.state.writers.values():
            recovered = await writer.start()
            started.append(writer)
            if recovered:
                logger.info("recovered %d %s segment(s)", len(recovered), writer.name)
        # Long-lived start-up objects leave the collector's view: full collections stay short,
        # which keeps GC pauses out of the ack latency tail.
        gc.collect()
        gc.freeze()
        yield
    finally:
        for writer in started:
            await writer.aclose()


def create_app(settings: Settings, *, cors: bool = True) -> FastAPI:
    """Build the ingest application for `settings`; `cors=False` leaves CORS to the caller
    (`server.serve_app` puts it around the guards that run before the app)."""
    app = FastAPI(
        title="gex-pipeline ingest API",
        version=__version__,
        description="Validates payloads and lands them durably (fsync) in the staging area.",
        lifespan=_lifespan,
    )
    staging = settings.paths.staging_dir
    app.state.settings = settings
    app.state.metrics = Metrics(
        staging,
        settings.paths.metrics_dir,
        lambda: {stream: writer.pending for stream, writer in app.state.writers.items()},
    )
    app.state.url_policy = UrlPolicy.from_settings(settings.history)
    app.state.history_store = HistoryStore(settings.paths.data_dir, settings.paths.secrets_dir)
    app.state.history_bounds = HistoryBounds(settings.history.max_per_minute)
    app.state.disk_guard = DiskGuard(settings.paths.staging_dir, settings.api.min_free_mb)
    app.state.writers = {
        stream: SegmentWriter(
            stream_dirs(staging, stream),
            seal_bytes=settings.api.seal_bytes,
            seal_age_s=settings.api.seal_age_ms / 1000,
            max_pending=settings.api.queue_max,
            fsync=settings.api.fsync,
            parallel_syncs=settings.api.parallel_fsyncs,
        )
        for stream in STREAMS
    }
    install_error_handlers(app)
    if cors:
        app.add_middleware(BrowserCors, api=settings.api, metrics=app.state.metrics)
    for module in (routes_ops, routes_gex, routes_uw, routes_history):
        app.include_router(module.router)
    return app
