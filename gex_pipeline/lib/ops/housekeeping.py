"""File retention of the maintenance job: raw downloads, pre-images, finished history requests.

Each function deletes what is older than its retention (0 keeps everything) and returns what it
deleted, so the job can report it. Processed staging (`reader.purge_processed`) and database
backups (`lib.db.backup.prune_backups`) have their own functions beside their data.
"""

from __future__ import annotations

import json
from pathlib import Path

from gex_pipeline.lib.history.day_replace import prune_backups as prune_feed_pre_images
from gex_pipeline.lib.history.names import parse_day_file_name
from gex_pipeline.lib.staging.durable_fs import flocked
from gex_pipeline.lib.staging.history_store import HistoryStore

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


def purge_finished_requests(data_dir: Path, retention_days: int, now_ms: int) -> list[str]:
    """Delete history requests finished (`done`/`failed`) more than `retention_days` ago.

    The request file goes first, then its status: the history sensor never sees a request
    without its final status (it would import it again).
    """
    if retention_days <= 0:
        return []
    store = HistoryStore(data_dir)
    cutoff = now_ms - retention_days * DAY_SECONDS * 1000
    removed = []
    for request_id in store.list_request_ids():
        status = store.read_status(request_id)
        if not status or status.get("state") not in FINISHED_STATES:
            continue
        finished_at = int(status.get("updated_at") or 0)
        if finished_at >= cutoff:
            continue
        request_path = store.dirs.requests / f"{request_id}.json"
        # The API's lock: a re-post cannot land between the check and the delete.
        with flocked(store.dirs.root / ".requests.lock"):
            request = json.loads(request_path.read_bytes()) if request_path.exists() else None
            if request is None or int(request.get("last_posted_at") or 0) > finished_at:
                continue  # posted again after it finished: not finished any more
            request_path.unlink()
        (store.dirs.status / f"{request_id}.json").unlink(missing_ok=True)
        removed.append(request_id)
    return removed
