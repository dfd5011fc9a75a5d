"""`gex-pipeline backup [--verify PATH [--full]]` and `gex-pipeline restore-db PATH [--force]`.

A backup is a restore point (`lib/lake/restore_points.py`): it can be taken while the stack runs,
holds the live loader's DuckDB file for a moment only, copies the lake files no earlier point
copied and publishes `$GEX_DATA_DIR/backups/db/<stamp>/` with a manifest of checksums. A restore
puts the whole store back to a point only with `--force` and keeps the replaced DuckDB file
aside (the lake keeps the replaced versions in its history); both print paths.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gex_pipeline.settings import Settings


def add_backup_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `backup` and `restore-db` on the top-level subparsers."""
    backup = sub.add_parser("backup", help="take a restore point (safe while the stack runs)")
    backup.add_argument("--verify", type=Path, metavar="PATH", help="only verify this point")
    backup.add_argument(
        "--full", action="store_true", help="with --verify: re-hash every file, not only new ones"
    )
    backup.add_argument(
        "--keep", type=int, help="keep this many newest points (default GEX_DB_BACKUP_KEEP)"
    )
    restore = sub.add_parser("restore-db", help="put the whole store back to a restore point")
    restore.add_argument("path", type=Path, metavar="PATH", help="a restore point directory")
    restore.add_argument(
        "--force", action="store_true", help="replace the current store (the old one is kept)"
    )


def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Take (or verify) a restore point; exit 0 on success, 1 when one is invalid, 2 on bad input."""
    from gex_pipeline.lib.lake.remote import SharedLakeUnsupported, settings_lake
    from gex_pipeline.lib.lake.restore_points import (
        BackupInvalid,
        BackupRoots,
        prune_points,
        take_point,
        verify_point,
    )

    if args.verify is not None:
        try:
            point = verify_point(args.verify, full=args.full)
        except BackupInvalid as exc:
            print(f"INVALID: {exc}")
            return 1
        files = sum(len(t["files"]) for t in point.manifest["lake"].values())
        print(f"OK {point.path}: {len(point.versions)} tables, {files} files match the manifest")
        return 0
    keep = settings.ops.db_backup_keep if args.keep is None else args.keep
    paths = settings.paths
    backups = BackupRoots(paths.backups_dir)
    try:
        point = take_point(
            paths.duckdb_path,
            settings_lake(settings),
            backups,
            status_path=paths.data_dir / "live" / "status.json",
            memory_limit=settings.history.duckdb_memory_limit,
        )
    except (FileExistsError, SharedLakeUnsupported) as exc:  # a point this second already
        print(f"refused: {exc}")
        return 2
    print(f"backup written: {point.path}")
    print(
        f"  {len(point.versions)} tables, {point.bytes_added} bytes copied (new since the last point)"
    )
    for path in prune_points(backups, keep):
        print(f"  pruned old backup {path}")
    return 0


def run_restore_db(args: argparse.Namespace, settings: Settings) -> int:
    """Restore the whole store to a point; exit 0 on success, 1 invalid point, 2 refused."""
    from gex_pipeline.lib.lake.remote import SharedLakeUnsupported, settings_lake
    from gex_pipeline.lib.lake.restore_points import (
        BackupInvalid,
        RestoreRefused,
        load_point,
        restore_store,
    )

    paths = settings.paths
    try:
        replaced = restore_store(
            load_point(args.path), settings_lake(settings), paths.duckdb_path, force=args.force
        )
    except BackupInvalid as exc:
        print(f"INVALID backup, nothing changed: {exc}")
        return 1
    except (RestoreRefused, SharedLakeUnsupported) as exc:
        print(f"refused: {exc}")
        return 2
    print(f"restored {paths.duckdb_path} and the lake from {args.path}")
    if replaced is not None:
        print(f"the replaced database was kept as {replaced}")
    print("staging loaded after the backup was taken is not in it: replay it (docs/operations.md)")
    return 0
