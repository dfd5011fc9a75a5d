"""`gex-pipeline backup [--verify PATH]` and `gex-pipeline restore-db PATH [--force]`.

A backup can be taken while the stack runs: it waits for the DuckDB writer lock, copies the
database inside DuckDB and publishes `$GEX_DATA_DIR/backups/db/<stamp>/` with a manifest. A restore
replaces `gex_data.db` only with `--force` and keeps the replaced file aside; both print paths.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gex_pipeline.settings import Settings


def add_backup_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `backup` and `restore-db` on the top-level subparsers."""
    backup = sub.add_parser("backup", help="back up gex_data.db (safe while the stack runs)")
    backup.add_argument("--verify", type=Path, metavar="PATH", help="only verify this backup")
    backup.add_argument(
        "--keep", type=int, help="keep this many newest backups (default GEX_DB_BACKUP_KEEP)"
    )
    restore = sub.add_parser("restore-db", help="replace gex_data.db with a verified backup")
    restore.add_argument("path", type=Path, metavar="PATH", help="a backup directory")
    restore.add_argument(
        "--force", action="store_true", help="replace an existing database (it is kept aside)"
    )


def run_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Take (or verify) a backup; exit 0 on success, 1 when a backup is invalid, 2 on bad input."""
    from gex_pipeline.lib.db.backup import BackupInvalid, prune_backups, take_backup, verify_backup

    if args.verify is not None:
        try:
            backup = verify_backup(args.verify)
        except BackupInvalid as exc:
            print(f"INVALID: {exc}")
            return 1
        rows = sum(t["rows"] for t in backup.tables.values())
        print(f"OK {backup.path}: {len(backup.tables)} tables, {rows} rows match the manifest")
        return 0
    try:
        keep = settings.ops.db_backup_keep if args.keep is None else args.keep
    except ValueError as exc:
        print(exc)
        return 2
    try:
        backup = take_backup(settings.paths.duckdb_path, settings.paths.db_backups_dir)
    except (FileNotFoundError, FileExistsError) as exc:  # no database / a backup this second
        print(exc)
        return 2
    rows = sum(t["rows"] for t in backup.tables.values())
    print(f"backup written: {backup.path}")
    print(f"  {len(backup.tables)} tables, {rows} rows, {backup.manifest['bytes']} bytes")
    for path in prune_backups(settings.paths.db_backups_dir, keep):
        print(f"  pruned old backup {path}")
    return 0


def run_restore_db(args: argparse.Namespace, settings: Settings) -> int:
    """Restore a backup over `gex_data.db`; exit 0 on success, 1 invalid backup, 2 refused."""
    from gex_pipeline.lib.db.backup import BackupInvalid, RestoreRefused, restore_database

    try:
        result = restore_database(args.path, settings.paths.duckdb_path, force=args.force)
    except BackupInvalid as exc:
        print(f"INVALID backup, nothing changed: {exc}")
        return 1
    except RestoreRefused as exc:
        print(f"refused: {exc}")
        return 2
    print(f"restored {result.database} from {args.path}")
    if result.replaced is not None:
        print(f"the replaced database was kept as {result.replaced}")
    print("staging loaded after the backup was taken is not in it: replay it (docs/operations.md)")
    return 0
