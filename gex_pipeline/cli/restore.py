"""`gex-pipeline restore`: put a replaced date x feed slice back from its pre-image in `backups/`.

History imports keep the old slice as Parquet before a replace that removes rows. This command lists
those pre-images and restores one (the newest by default). The slice it overwrites is itself kept as
a new pre-image first, so a restore can be undone the same way. It opens DuckDB for writing: stop the
stack (or wait for running imports to finish) if the database is in use.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from gex_pipeline.lib.calendar.trading_date import parse_feed_key
from gex_pipeline.lib.history.day_replace import SliceBackup
from gex_pipeline.settings import Settings

_SNAPSHOTS_SUFFIX = ".snapshots.parquet"


@dataclass(frozen=True)
class PreImage:
    """One pre-image of a slice: its stamp (UTC time it was taken) and its two files."""

    stamp: str
    backup: SliceBackup


def pre_images(backups_dir: Path, ticker: str, endpoint: str, trade_date: date) -> list[PreImage]:
    """The complete pre-images of the slice, oldest first."""
    folder = backups_dir / ticker / endpoint
    prefix = f"{trade_date:%Y%m%d}-"
    found = []
    for snapshots in sorted(folder.glob(f"{prefix}*{_SNAPSHOTS_SUFFIX}")):
        stamp = snapshots.name.removeprefix(prefix).removesuffix(_SNAPSHOTS_SUFFIX)
        strikes = folder / f"{prefix}{stamp}.strikes.parquet"
        if strikes.is_file():
            found.append(PreImage(stamp, SliceBackup(snapshots=snapshots, strikes=strikes)))
    return found


def add_restore_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `restore` on the top-level subparsers."""
    restore = sub.add_parser("restore", help="restore a replaced date x feed slice from backups/")
    restore.add_argument("--feed", required=True, help="TICKER.endpoint, e.g. NQ_NDX.gex_zero")
    restore.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    restore.add_argument("--stamp", help="the pre-image to restore (default: the newest)")
    restore.add_argument("--list", action="store_true", help="only list the pre-images")


def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    """List or restore pre-images of one slice; exit status 0 on success, 2 on a refusal."""
    try:
        ticker, endpoint = parse_feed_key(args.feed)
    except ValueError as exc:
        print(f"--feed: {exc}")
        return 2
    images = pre_images(settings.paths.backups_dir, ticker, endpoint, args.date)
    if args.list or not images:
        if not images:
            print(f"no pre-image of {args.feed} {args.date} under {settings.paths.backups_dir}")
            return 0 if args.list else 2
        for image in images:
            print(f"{image.stamp}  {image.backup.snapshots.parent}")
        return 0
    chosen = [i for i in images if args.stamp in (None, i.stamp)]
    if not chosen:
        print(f"--stamp: no pre-image {args.stamp!r}; use --list to see them")
        return 2
    return _restore(settings, ticker, endpoint, args.date, chosen[-1])


def _restore(settings: Settings, ticker: str, endpoint: str, day: date, image: PreImage) -> int:
    import duckdb

    from gex_pipeline.lib.db.connection import connect
    from gex_pipeline.lib.db.schema import migrate
    from gex_pipeline.lib.gex.parquet_export import export_partition
    from gex_pipeline.lib.history.day_replace import backup_slice, restore_slice, slice_counts

    try:
        with connect(settings.paths.duckdb_path) as con:
            migrate(con)
            if any(slice_counts(con, ticker, endpoint, day)):
                kept = backup_slice(con, settings.paths.backups_dir, ticker, endpoint, day)
                print(f"current slice kept as {kept.snapshots.name} (+ strikes)")
            restore_slice(con, image.backup, ticker, endpoint, day)
            snapshots, strikes = slice_counts(con, ticker, endpoint, day)
            if strikes:
                export_partition(con, settings.paths.parquet_dir, ticker, endpoint, day)
    except duckdb.IOException as exc:
        print(
            f"cannot open {settings.paths.duckdb_path} for writing (is the pipeline running?): {exc}"
        )
        return 2
    print(
        f"restored {ticker}.{endpoint} {day} from {image.stamp}: {snapshots} snapshots, {strikes} strike rows"
    )
    return 0
