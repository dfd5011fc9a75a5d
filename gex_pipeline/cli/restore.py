"""`gex-pipeline restore`: put a date x feed partition back as it was before a replace.

Every replace of a feed-day by an import, a rebuild or a restore is recorded with the lake
versions it replaced (`lib/lake/changes.py`). This command lists those changes (and the restore
points) and restores the partition to the state before one of them (the newest by default), or
to a restore point (`--point`). The restore is itself a recorded change, so it can be undone the
same way. It works while the stack runs (a partition the live loader holds is sealed first).
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import feed_key, parse_feed_key
from gex_pipeline.settings import Settings

if TYPE_CHECKING:
    from gex_pipeline.lib.lake.store import TableStore
    from gex_pipeline.lib.lake.tables import Partition

RESTORE_WRITER = "restore"


def add_restore_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `restore` on the top-level subparsers."""
    restore = sub.add_parser("restore", help="restore a replaced date x feed partition")
    restore.add_argument("--feed", required=True, help="TICKER.endpoint, e.g. NQ_NDX.gex_zero")
    restore.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    restore.add_argument("--stamp", help="restore the state before this change (default: newest)")
    restore.add_argument("--point", help="restore the partition from this restore point")
    restore.add_argument("--list", action="store_true", help="only list changes and points")


def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    """List or restore one feed-day; exit status 0 on success, 2 on a refusal."""
    from gex_pipeline.lib.lake.changes import changes
    from gex_pipeline.lib.lake.restore_points import BackupRoots, list_points
    from gex_pipeline.lib.lake.store import TableStore
    from gex_pipeline.lib.lake.tables import Partition

    try:
        ticker, endpoint = parse_feed_key(args.feed)
    except ValueError as exc:
        print(f"--feed: {exc}")
        return 2
    store = TableStore.from_settings(settings)
    partition = Partition(args.date, feed_key(ticker, endpoint))
    found = changes(store.lake, partition)
    points = list_points(BackupRoots(settings.paths.backups_dir).points)
    if args.list:
        for change in found:
            rows = change.rows_after.get("gex_strikes", 0)
            print(f"{change.stamp}  {change.writer:16s} strike rows after: {rows}")
        for point in points:
            print(f"point {point.name}")
        if not found and not points:
            print(f"no recorded change of {args.feed} {args.date} and no restore point")
        return 0
    if args.point is not None:
        return _restore_point(settings, store, partition, args.point)
    chosen = [c for c in found if args.stamp in (None, c.stamp)]
    if not chosen:
        what = f"no change {args.stamp!r}" if args.stamp else "no recorded change"
        print(f"{what} of {args.feed} {args.date}; use --list to see them")
        return 2
    before = chosen[-1].versions_before
    if _strike_rows_at(store, partition, before.get("gex_strikes", -1)) == 0:
        print(
            f"{args.feed} {args.date} held no rows before the change {chosen[-1].stamp} "
            f"({chosen[-1].writer}): nothing to put back; see --list"
        )
        return 2
    return _restore_versions(settings, store, partition, before)


def _strike_rows_at(store: TableStore, partition: Partition, version: int) -> int:
    """Strike rows the partition held at a version of `gex_strikes` (0 before the table)."""
    from gex_pipeline.lib.lake.tables import partition_files

    table = store.lake.open("gex_strikes", version) if version >= 0 else None
    if table is None:
        return 0
    return sum(int(str(f["num_records"])) for f in partition_files(table, partition))


def _finish(
    settings: Settings,
    store: TableStore,
    partition: Partition,
    restored: dict[str, int],
    source: str,
) -> int:
    from gex_pipeline.lib.gex.feed_day import FeedDay
    from gex_pipeline.lib.gex.parquet_export import export_lake_partition

    ticker, _, endpoint = str(partition.feed).partition(".")
    if restored.get("gex_strikes"):
        with store.reader(partition) as con:
            export_lake_partition(
                store,
                con,
                settings.paths.parquet_dir,
                FeedDay(partition.trade_date, ticker, endpoint),
            )
    print(
        f"restored {partition.feed} {partition.trade_date} from {source}: "
        f"{restored.get('gex_snapshots', 0)} snapshots, {restored.get('gex_strikes', 0)} strike rows"
    )
    return 0


def _restore_versions(
    settings: Settings, store: TableStore, partition: Partition, versions: dict[str, int]
) -> int:
    from gex_pipeline.lib.lake.changes import record_change, restore_versions

    store.claim(partition)
    current = {n: (t.version() if (t := store.lake.open(n)) else -1) for n in versions}
    try:
        restored = restore_versions(store.lake, partition, versions, writer=RESTORE_WRITER)
    except Exception as exc:  # files of that version vacuumed: a restore point has them
        print(f"cannot read the version before that change ({exc}); try --point (see --list)")
        return 2
    after = {n: t.version() for n in versions if (t := store.lake.open(n)) is not None}
    with store.workspace(partition) as ws:
        record_change(ws.con, store.lake, partition, RESTORE_WRITER, current, after, restored)
    return _finish(settings, store, partition, restored, f"the versions {versions}")


def _restore_point(settings: Settings, store: TableStore, partition: Partition, stamp: str) -> int:
    from gex_pipeline.lib.lake.changes import record_change
    from gex_pipeline.lib.lake.restore_points import (
        BackupInvalid,
        BackupRoots,
        restore_partition,
        verify_point,
    )

    try:
        point = verify_point(BackupRoots(settings.paths.backups_dir).points / stamp)
    except BackupInvalid as exc:
        print(f"--point: {exc}")
        return 2
    store.claim(partition)
    names = [n for n in point.versions if n != "gex_partition_changes"]
    current = {n: (t.version() if (t := store.lake.open(n)) else -1) for n in names}
    restored = restore_partition(
        point, store.lake, partition, names, settings.history.duckdb_memory_limit
    )
    after = {n: t.version() for n in restored if (t := store.lake.open(n)) is not None}
    with store.workspace(partition) as ws:
        record_change(ws.con, store.lake, partition, RESTORE_WRITER, current, after, restored)
    return _finish(settings, store, partition, restored, f"restore point {stamp}")
