"""Retention of the lake: delete the files no version within the retention needs (`vacuum`).

A replace or a compaction only removes files from the table's current version; they stay on
disk until vacuum deletes them. What is kept is decided from the log, not from the removals
(tombstones) a checkpoint carries, which expire within minutes (`tables.TABLE_CONFIGURATION`):
- the files of the version just before each commit of the last `retention_days` that removed
  files other than by compaction (a replace, a restore, a delete): what time travel and
  `gex-pipeline restore` read to go back before it, as long as the log keeps that version
  (`delta.logRetentionDuration`; restore points keep their own copies);
- every other file no longer in the current version (the small files a compaction merged, whose
  rows the merged file holds, or files of a write that never committed) once it is
  `UNNEEDED_FILE_HOURS` old.
The log keeps `delta.logRetentionDuration` of versions: the commits older than that (up to a
checkpoint) are deleted here too, not after each commit (`writes.post_commit`). Each table's
properties are first brought to what this version creates tables with (`Lake.configure`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gex_pipeline.lib.lake.tables import SPECS, Lake

if TYPE_CHECKING:
    from deltalake import DeltaTable

VACUUM_WRITER = "maintenance"
# Age after which a file no kept version needs is deleted: far past any reader still reading a
# version it listed, or a writer between writing its files and committing them.
UNNEEDED_FILE_HOURS = 24


def vacuum_lake(lake: Lake, retention_days: int, *, now: datetime | None = None) -> dict[str, int]:
    """Bring every table's properties up to date, delete its expired log files, and vacuum it
    (see the module docstring); data files deleted per table.

    `retention_days` <= 0 keeps every data file.
    """
    from deltalake import CommitProperties

    now = now or datetime.now(UTC)
    deleted: dict[str, int] = {}
    for name in SPECS:
        table = lake.open(name)
        if table is None:
            continue
        lake.configure(table, writer=VACUUM_WRITER)
        table.cleanup_metadata()
        if retention_days <= 0:
            continue
        keep = versions_before_removals(table, since=now - timedelta(days=retention_days))
        files = table.vacuum(
            retention_hours=UNNEEDED_FILE_HOURS,
            dry_run=False,
            enforce_retention_duration=False,
            full=True,
            keep_versions=keep or None,
            commit_properties=CommitProperties(custom_metadata={"gex.writer": VACUUM_WRITER}),
        )
        deleted[name] = len(files)
    return deleted


def versions_before_removals(table: DeltaTable, since: datetime) -> list[int]:
    """The versions just before each commit since `since` that removed files other than by
    compaction, that the log can still load (it starts at its oldest remaining version)."""
    commits = table.history()
    if not commits:
        return []
    oldest = min(int(c["version"]) for c in commits)
    since_ms = since.timestamp() * 1000
    return sorted(
        {
            int(c["version"]) - 1
            for c in commits
            if int(c.get("timestamp") or 0) >= since_ms
            and c.get("operation") != "OPTIMIZE"
            and _removed_files(c) > 0
            and int(c["version"]) - 1 >= oldest
        }
    )


def _removed_files(commit: dict[str, Any]) -> int:
    """How many files a commit removed, from its metrics (each operation names it its own way:
    `num_removed_files`, `numRemovedFile`, `num_target_files_removed`, ...)."""
    found = 0
    for key, value in (commit.get("operationMetrics") or {}).items():
        words = key.lower().replace("_", "")
        if "removed" in words and "file" in words and isinstance(value, int):
            found += value
    return found
