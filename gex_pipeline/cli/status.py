"""`gex-pipeline status [--json]`: pipeline health at a glance, without opening DuckDB.

Last load per feed and failed runs come from the Dagster instance (materializations of the table
assets, run records); staging backlog, disk, alerts from files (`lib.ops.health`).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from gex_pipeline.settings import Settings

SCAN = 2000  # newest materializations read per table asset


def add_status_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `status` on the top-level subparsers."""
    status = sub.add_parser("status", help="pipeline health: last loads, backlog, failures")
    status.add_argument("--json", action="store_true", help="print JSON")


def _instance(settings: Settings) -> Any:
    import dagster as dg

    if not (settings.paths.dagster_home / "dagster.yaml").exists():
        return None
    return dg.DagsterInstance.from_config(str(settings.paths.dagster_home))


def dagster_health(instance: Any, hours: int = 24) -> dict[str, Any]:
    """Last load per feed / webhook day and the failed runs of the last `hours`."""
    import dagster as dg

    feeds: dict[str, float] = {}
    for record in instance.fetch_materializations(dg.AssetKey("gex_snapshots"), limit=SCAN).records:
        feed = (record.partition_key or "").partition("|")[2]
        if feed:
            feeds[feed] = max(feeds.get(feed, 0.0), record.timestamp)
    webhooks = instance.fetch_materializations(dg.AssetKey("universal_webhooks"), limit=1).records
    since = datetime.now(UTC) - timedelta(hours=hours)
    failed = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], created_after=since), limit=100
    )
    now = time.time()
    return {
        "last_load_per_feed": {
            feed: {"at": _iso(ts), "age_seconds": round(now - ts)}
            for feed, ts in sorted(feeds.items())
        },
        "last_webhook_load": _iso(webhooks[0].timestamp) if webhooks else None,
        "failed_runs_24h": [
            {
                "run_id": r.dagster_run.run_id,
                "job": r.dagster_run.job_name,
                "at": _iso(r.create_timestamp.timestamp()),
            }
            for r in failed
        ],
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def collect(settings: Settings) -> dict[str, Any]:
    """The whole health report."""
    from gex_pipeline.lib.ops.health import file_health

    report: dict[str, Any] = file_health(settings.paths)
    instance = _instance(settings)
    if instance is None:
        report["dagster"] = None
    else:
        with instance:
            report["dagster"] = dagster_health(instance)
    return report


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """Print the health report; exit 1 when something needs attention (failed runs, alerts)."""
    report = collect(settings)
    attention = bool(report["alerts_24h"]) or bool(
        report["dagster"] and report["dagster"]["failed_runs_24h"]
    )
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 1 if attention else 0
    staging = report["staging"]
    for stream in ("gex", "uw"):
        s = staging[stream]
        age = f", oldest {s['oldest_age_seconds']}s" if s["sealed_segments"] else ""
        print(f"staging {stream}: {s['sealed_segments']} sealed segments waiting{age}")
    print(f"history requests unfinished: {staging['history_requests_unfinished']}")
    print(f"disk free: {report['disk_free_mb']} MiB; database: {report['database_bytes']} bytes")
    dagster = report["dagster"]
    if dagster is None:
        print("Dagster instance: not initialised (gex-pipeline init)")
    else:
        for feed, load in dagster["last_load_per_feed"].items():
            print(f"last load {feed}: {load['at']} ({load['age_seconds']}s ago)")
        print(f"last webhook load: {dagster['last_webhook_load']}")
        print(f"failed runs (24h): {len(dagster['failed_runs_24h'])}")
    print(f"alerts (24h): {report['alerts_24h'] or 'none'}")
    return 1 if attention else 0
