"""`gex-pipeline migrate [--drop-old]`: move a single-file `gex_data.db` into the lake.

`up` and `live-loader` run it on their own when they find a store of the single-file layout, so
upgrading is one restart; the old file is kept (`gex_data.pre-lake-<stamp>.db`) until
`migrate --drop-old`.
"""

from __future__ import annotations

import argparse

from gex_pipeline.settings import Settings


def add_migrate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `migrate` on the top-level subparsers."""
    migrate = sub.add_parser(
        "migrate", help="move a single-file gex_data.db into the lake (keeps the old file)"
    )
    migrate.add_argument(
        "--drop-old", action="store_true", help="delete the old files of finished migrations"
    )


def ensure_migrated(settings: Settings) -> None:
    """Migrate the store when it still has the single-file layout (printing what happened)."""
    from gex_pipeline.lib.lake.migrate import migrate_store, needs_migration
    from gex_pipeline.lib.lake.remote import settings_lake

    db_path = settings.paths.duckdb_path
    if not needs_migration(db_path):
        return
    lake = settings_lake(settings)
    print(f"migrating {db_path} into the lake {lake.root} ...", flush=True)
    report = migrate_store(db_path, lake)
    total = sum(report.rows.values())
    print(
        f"migrated {report.partitions} partitions, {total} rows verified (counts and hashes); "
        f"the old file is kept as {report.kept} (gex-pipeline migrate --drop-old deletes it)",
        flush=True,
    )


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate (or drop the old files); exit 0, 1 when the verification fails."""
    from gex_pipeline.lib.lake.migrate import MigrationFailed, drop_old, needs_migration

    if args.drop_old:
        gone = drop_old(settings.paths.duckdb_path)
        for path in gone:
            print(f"deleted {path}")
        if not gone:
            print("no old file of a finished migration to delete")
        return 0
    if not needs_migration(settings.paths.duckdb_path):
        print(f"{settings.paths.duckdb_path}: nothing to migrate")
        return 0
    try:
        ensure_migrated(settings)
    except MigrationFailed as exc:
        print(f"migration NOT finished: {exc}")
        return 1
    return 0
