"""Retention of the lake: delete the files no version within the retention needs (`vacuum`).

A replace or a compaction only removes files from the table's current version; they stay on
disk for time travel (what `gex-pipeline restore` uses to go back before a replace) until vacuum
deletes those removed more than `retention_days` ago. Restore points keep their own copies, and
the log keeps `delta.logRetentionDuration` of versions: the commits older than that (up to a
checkpoint) are deleted here too, not after each commit (`writes.post_commit`).
"""

from __future__ import annotations

from gex_pipeline.lib.lake.tables import SPECS, Lake

VACUUM_WRITER = "maintenance"


def vacuum_lake(lake: Lake, retention_days: int) -> dict[str, int]:
    """Delete every table's expired log files, and vacuum it (files removed over
    `retention_days` ago); data files deleted per table.

    `retention_days` <= 0 keeps every data file.
    """
    from deltalake import CommitProperties

    deleted: dict[str, int] = {}
    for name in SPECS:
        table = lake.open(name)
        if table is None:
            continue
        table.cleanup_metadata()
        if retention_days <= 0:
            continue
        files = table.vacuum(
            retention_hours=retention_days * 24,
            dry_run=False,
            enforce_retention_duration=False,
            commit_properties=CommitProperties(custom_metadata={"gex.writer": VACUUM_WRITER}),
        )
        deleted[name] = len(files)
    return deleted
