"""Operations jobs: the daily restore point and the maintenance (retention) job."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from gex_pipeline.defs.resources import StagingArea, Tables
from gex_pipeline.lib.staging.layout import STREAMS
from gex_pipeline.settings import Settings


@dg.op(description="Take a restore point of the lake and gex_data.db; prune old points.")
def backup_database(context: dg.OpExecutionContext, tables: Tables) -> None:
    """Take a restore point under `$GEX_DATA_DIR/backups/db/` (incremental: only files no earlier
    point copied), keep the newest GEX_DB_BACKUP_KEEP."""
    from gex_pipeline.lib.lake.remote import on_object_storage
    from gex_pipeline.lib.lake.restore_points import BackupRoots, prune_points, take_point

    settings = Settings.from_env()
    store = tables.store()
    if on_object_storage(store.lake):
        context.log.info(
            f"no restore point: the lake {store.lake.root} is on object storage, whose"
            " versioning or replication keeps it (docs/deployment.md)"
        )
        context.add_output_metadata({"skipped": "shared lake"})
        return
    backups = BackupRoots(settings.paths.backups_dir)
    point = take_point(
        store.db_path,
        store.lake,
        backups,
        status_path=settings.paths.data_dir / "live" / "status.json",
        memory_limit=settings.history.duckdb_memory_limit,
    )
    pruned = prune_points(backups, settings.ops.db_backup_keep)
    context.log.info(f"restore point {point.path}: {point.bytes_added} bytes copied")
    context.add_output_metadata(
        {
            "path": dg.MetadataValue.path(str(point.path)),
            "bytes_added": point.bytes_added,
            "tables": len(point.versions),
            "pruned": len(pruned),
        }
    )


@dg.job(description="Incremental restore point of the whole store (gex-pipeline backup).")
def db_backup_job() -> None:
    backup_database()


@dg.op(description="Retention of staging, raw files, pre-images, requests, backups and runs.")
def housekeeping(context: dg.OpExecutionContext, staging: StagingArea) -> None:
    """Apply every retention setting once and report what went (see docs/operations.md)."""
    import time

    from gex_pipeline.defs.ops.run_retention import purge_runs
    from gex_pipeline.lib.lake.maintenance import vacuum_lake
    from gex_pipeline.lib.lake.remote import settings_lake
    from gex_pipeline.lib.lake.restore_points import BackupRoots, prune_points
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
        "db_backups": len(prune_points(BackupRoots(paths.backups_dir), ops.db_backup_keep)),
        "lake_files_vacuumed": sum(
            vacuum_lake(settings_lake(settings), history.backup_retention_days).values()
        ),
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
