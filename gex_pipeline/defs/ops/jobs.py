"""Operations jobs: the daily database backup and the maintenance (retention) job."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from gex_pipeline.defs.resources import DuckDBDatabase, StagingArea
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.staging.layout import STREAMS
from gex_pipeline.settings import Settings


@dg.op(pool=DUCKDB_WRITER_POOL, description="Back up gex_data.db and prune old backups.")
def backup_database(context: dg.OpExecutionContext, duckdb_database: DuckDBDatabase) -> None:
    """Take a verified backup under `$GEX_DATA_DIR/backups/db/`, keep the newest GEX_DB_BACKUP_KEEP."""
    from gex_pipeline.lib.db.backup import prune_backups, take_backup

    settings = Settings.from_env()
    root = settings.paths.db_backups_dir
    backup = take_backup(duckdb_database.db_path(), root)
    pruned = prune_backups(root, settings.ops.db_backup_keep)
    rows = sum(t["rows"] for t in backup.tables.values())
    context.log.info(f"backup {backup.path}: {rows} rows; pruned {len(pruned)} old backups")
    context.add_output_metadata(
        {
            "path": dg.MetadataValue.path(str(backup.path)),
            "rows": rows,
            "bytes": backup.manifest["bytes"],
            "pruned": len(pruned),
        }
    )


@dg.job(description="Consistent backup of gex_data.db with a manifest (gex-pipeline backup).")
def db_backup_job() -> None:
    backup_database()


@dg.op(description="Retention of staging, raw files, pre-images, requests, backups and runs.")
def housekeeping(context: dg.OpExecutionContext, staging: StagingArea) -> None:
    """Apply every retention setting once and report what went (see docs/operations.md)."""
    import time

    from gex_pipeline.defs.ops.run_retention import purge_runs
    from gex_pipeline.lib.db.backup import prune_backups
    from gex_pipeline.lib.ops.housekeeping import (
        purge_finished_requests,
        purge_pre_images,
        purge_raw_files,
    )

    settings = Settings.from_env()
    paths, ops, history = settings.paths, settings.ops, settings.history
    now = time.time()
    removed = {
        "processed_segments": sum(len(staging.purge_processed(s)) for s in STREAMS),
        "raw_files": len(purge_raw_files(paths.source_dir, ops.raw_retention_days, now)),
        "pre_image_files": len(
            purge_pre_images(paths.backups_dir, history.backup_retention_days, now)
        ),
        "history_requests": purge_finished_requests(paths, history.retention_days, int(now * 1000)),
        "db_backups": len(prune_backups(paths.db_backups_dir, ops.db_backup_keep)),
    }
    if ops.run_retention_days:
        runs = purge_runs(
            context.instance,
            before=datetime.now(UTC) - timedelta(days=ops.run_retention_days),
            failed_before=datetime.now(UTC) - timedelta(days=ops.failed_run_retention_days)
            if ops.failed_run_retention_days
            else None,
        )
        removed["runs"] = len(runs.deleted_runs)
        removed["materializations_carried_over"] = runs.carried_materializations
    context.log.info(f"housekeeping removed: {removed}")
    context.add_output_metadata(dict(removed))


@dg.job(description="Daily retention of files, backups and Dagster runs (partitions keep status).")
def maintenance_job() -> None:
    housekeeping()


ops_jobs = [db_backup_job, maintenance_job]
