"""File retention of the maintenance job: raw downloads, pre-images, finished history requests.

Each function deletes what is older than its retention (0 keeps everything) and returns what it
deleted, so the job can report it. Processed staging (`reader.purge_processed`) and database
restore points (`lib.lake.restore_points.prune_points`) have their own functions beside their data.
"""

from __future__ import annotations

from pathlib import Path

from gex_pipeline.lib.history.day_replace import prune_backups as prune_feed_pre_images
from gex_pipeline.lib.history.names import parse_day_file_name
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline.settings import PathSettings

DAY_SECONDS = 86_400
FINISHED_STATES = ("done", "failed")


def purge_raw_files(source_dir: Path, retention_days: int, now: float) -> list[Path]:
    """Delete kept raw day files downloaded more than `retention_days` ago (by mtime)."""
    if retention_days <= 0 or not source_dir.is_dir():
        return []
    cutoff = now - retention_days * DAY_SECONDS
    doomed = [
        p
        for p in source_dir.glob("*/*/*")
        if p.is_file() and parse_day_file_name(p.name) and p.stat().st_mtime < cutoff
    ]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def purge_pre_images(backups_dir: Path, retention_days: int, now: float) -> list[Path]:
    """Delete slice pre-images (`backups/<TICKER>/<endpoint>/`) older than `retention_days`.

    Whole-database backups (`backups/db/`) are not pre-images and are left alone.
    """
    if retention_days <= 0 or not backups_dir.is_dir():
        return []
    removed: list[Path] = []
    for ticker in sorted(p for p in backups_dir.iterdir() if p.is_dir() and p.name != "db"):
        for endpoint in sorted(p for p in ticker.iterdir() if p.is_dir()):
            removed += prune_feed_pre_images(
                backups_dir, ticker.name, endpoint.name, retention_days, now
            )
    return removed


def purge_finished_requests(paths: PathSettings, retention_days: int, now_ms: int) -> int:
    """Delete history requests finished (`done`/`failed`) more than `retention_days` ago (`0`
    keeps all); a request posted again after it finished is waiting again and stays. The number
    of requests removed. One implementation with the API's own pruning (`HistoryStore`)."""
    if retention_days <= 0:
        return 0
    return HistoryStore(paths.data_dir, paths.secrets_dir).prune_finished(
        now_ms, retention_days * DAY_SECONDS * 1000
    )
