"""FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from gex_pipeline import __version__
from gex_pipeline.lib.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ingest application for `settings` (from the environment when omitted)."""
    settings = settings or Settings.from_env()
    app = FastAPI(title="gex-pipeline ingest API", version=__version__)
    app.state.settings = settings

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": "gex-pipeline", "version": __version__}

    return app
