"""Typed dependencies for the shared state of the app (settings, writers, stores, metrics).

Handlers declare what they use (`settings: SettingsDep`) instead of reading `request.app.state`;
`create_app` puts the objects on the state once, these functions hand them out. They are `async`
so that FastAPI calls them on the event loop, not in its thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import anyio
from fastapi import Depends, Request

from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.lib.ops.disk import DiskGuard
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline.lib.staging.writer import SegmentWriter
from gex_pipeline.settings import Settings
from ingest_api.history_bounds import HistoryBounds
from ingest_api.metrics import Metrics


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


async def get_writers(request: Request) -> Mapping[str, SegmentWriter]:
    """The staging writer of each stream."""
    return request.app.state.writers


async def get_history_store(request: Request) -> HistoryStore:
    """The store of historical-import requests and their status."""
    return request.app.state.history_store


async def get_history_bounds(request: Request) -> HistoryBounds:
    """This worker's bounds on history posts."""
    return request.app.state.history_bounds


async def get_url_policy(request: Request) -> UrlPolicy:
    """The policy history links must pass."""
    return request.app.state.url_policy


async def get_disk_guard(request: Request) -> DiskGuard:
    """The free-disk guard of the staging area."""
    return request.app.state.disk_guard


async def get_metrics(request: Request) -> Metrics:
    """This worker's metrics."""
    return request.app.state.metrics


async def get_parse_limiter(request: Request) -> anyio.CapacityLimiter:
    """The threads that parse large bodies off the event loop."""
    return request.app.state.parse_limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
WritersDep = Annotated[Mapping[str, SegmentWriter], Depends(get_writers)]
HistoryStoreDep = Annotated[HistoryStore, Depends(get_history_store)]
HistoryBoundsDep = Annotated[HistoryBounds, Depends(get_history_bounds)]
UrlPolicyDep = Annotated[UrlPolicy, Depends(get_url_policy)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
DiskGuardDep = Annotated[DiskGuard, Depends(get_disk_guard)]
ParseLimiterDep = Annotated[anyio.CapacityLimiter, Depends(get_parse_limiter)]
