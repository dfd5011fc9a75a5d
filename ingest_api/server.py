"""Run the ingest API under uvicorn."""

from __future__ import annotations

import uvicorn

from gex_pipeline.lib.settings import Settings
from ingest_api.app import create_app


def run_server(settings: Settings) -> int:
    """Serve the ingest API on the configured host and port until interrupted."""
    uvicorn.run(
        create_app(settings),
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_level="info",
    )
    return 0
