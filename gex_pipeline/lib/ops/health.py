"""Pipeline health read from files only (no DuckDB, no Dagster): staging backlog, disk, alerts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from gex_pipeline.lib.ops.alerts import read_alerts
from gex_pipeline.lib.ops.disk import free_mb
from gex_pipeline.lib.staging.layout import STREAMS, history_dirs, stream_dirs
from gex_pipeline.lib.staging.reader import list_sealed
from gex_pipeline.settings import PathSettings

FINAL_STATES = ("done", "failed")


def staging_backlog(paths: PathSettings, now_ns: int | None = None) -> dict[str, Any]:
    """Sealed segments waiting per stream (count, age of the oldest) and unfinished history requests."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    out: dict[str, Any] = {}
    for stream in STREAMS:
        sealed = list_sealed(stream_dirs(paths.staging_dir, stream))
        out[stream] = {
            "sealed_segments": len(sealed),
            "oldest_age_seconds": round((now_ns - sealed[0].seq) / 1e9, 1) if sealed else None,
        }
    dirs = history_dirs(paths.staging_dir)
    unfinished = 0
    if dirs.requests.is_dir():
        for request in dirs.requests.glob("*.json"):
            status = dirs.status / request.name
            state = json.loads(status.read_bytes()).get("state") if status.exists() else "pending"
            unfinished += state not in FINAL_STATES
    out["history_requests_unfinished"] = unfinished
    return out


def alert_counts(paths: PathSettings, hours: int = 24) -> dict[str, int]:
    """Alerts per kind over the last `hours`."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    counts: dict[str, int] = {}
    for alert in read_alerts(paths, last=10_000):
        if datetime.fromisoformat(alert["at"]) >= since:
            counts[alert["kind"]] = counts.get(alert["kind"], 0) + 1
    return counts


def file_health(paths: PathSettings) -> dict[str, Any]:
    """Everything this module knows: backlog, free disk, database size, recent alerts."""
    db = paths.duckdb_path
    return {
        "staging": staging_backlog(paths),
        "disk_free_mb": free_mb(paths.data_dir),
        "database_bytes": db.stat().st_size if db.exists() else None,
        "alerts_24h": alert_counts(paths),
        "recent_alerts": read_alerts(paths, last=5),
    }
