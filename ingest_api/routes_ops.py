"""Operations: `GET /health` (liveness), `GET /ready` (can we stage?), `GET /metrics` (Prometheus)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gex_pipeline import __version__
from gex_pipeline.lib.staging.writer import SegmentWriter
from gex_pipeline.settings import Settings
from ingest_api.deps import MetricsDep, SettingsDep, WritersDep

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "service": "gex-pipeline", "version": __version__}


def readiness_problems(
    settings: Settings, writers: Mapping[str, SegmentWriter]
) -> tuple[list[str], int]:
    """Why the API cannot stage right now (empty when ready), and the free disk in MiB."""
    staging = settings.paths.staging_dir
    problems: list[str] = []
    for stream, writer in writers.items():
        if not writer.running:
            problems.append(f"{stream} writer not running")
        if not os.access(writer.dirs.open, os.W_OK):
            problems.append(f"{stream} staging directory not writable")
    free_mb = shutil.disk_usage(staging).free // 2**20 if staging.exists() else 0
    if free_mb < settings.api.min_free_mb:
        problems.append(f"free disk {free_mb} MiB below {settings.api.min_free_mb} MiB")
    return problems, free_mb


@router.get("/ready", responses={503: {"description": "Cannot stage: reasons listed."}})
async def ready(settings: SettingsDep, writers: WritersDep) -> JSONResponse:
    """Readiness: staging writable, writers running and free disk above the threshold."""
    problems, free_mb = readiness_problems(settings, writers)
    body: dict[str, Any] = {"status": "ready" if not problems else "not_ready", "free_mb": free_mb}
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text exposition: this worker's counters, the staging gauges, and the figures
    the live loader and the pipeline's runs publish (docs/operations.md, "Metrics")."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
