"""Operations jobs: the daily database backup and the maintenance (retention) job."""

import dagster as dg

from gex_pipeline.defs.resources import DuckDBDatabase
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.ops.settings import OpsSettings
from gex_pipeline.lib.settings import Settings


@dg.op(pool=DUCKDB_WRITER_POOL, description="Back up gex_data.db and prune old backups.")
def backup_database(context: dg.OpExecutionContext, duckdb_database: DuckDBDatabase) -> None:
    """Take a verified backup under `$GEX_DATA_DIR/backups/db/`, keep the newest GEX_DB_BACKUP_KEEP."""
    from gex_pipeline.lib.db.backup import prune_backups, take_backup

    root = Settings.from_env().db_backups_dir
    backup = take_backup(duckdb_database.db_path(), root)
    pruned = prune_backups(root, OpsSettings.from_env().db_backup_keep)
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


ops_jobs = [db_backup_job]
