"""`gex_history_import`: one date x feed partition from its day file into DuckDB and Parquet.

One asset with two steps (download, then import + export) rather than two assets: a run pays its
start-up once, and with run-granularity pools a separate download step would hold the DuckDB writer
pool anyway. Runs started by `gex_history_sensor` carry the request id in the tag
`gex/history_request` (never the URL) and download the link afresh; a run without it (a backfill
from the UI) re-imports the kept raw file, or downloads the newest posted link when none is kept.
"""

from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.gex.assets import GEX_PARQUET
from gex_pipeline.defs.partitions import gex_partitions, parse_gex_partition_key
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.history.partition_import import (
    HistoryImportFailed,
    PartitionImport,
    PartitionTarget,
    import_partition,
)
from gex_pipeline.lib.history.settings import HistorySettings
from gex_pipeline.lib.settings import Settings

GROUP = "gex_history"
HISTORY_IMPORT = dg.AssetKey("gex_history_import")
REQUEST_TAG = "gex/history_request"
RETRY_NUMBER_TAG = "dagster/retry_number"


class HistoryImportConfig(dg.Config):
    """Options of one history import run."""

    force: bool = Field(
        default=False,
        description="replace the partition even when the file would shrink it sharply",
    )


def run_will_be_retried(instance: dg.DagsterInstance, tags: Mapping[str, str]) -> bool:
    """Whether the instance retries this run if it fails (run retries on, retries left)."""
    if not instance.run_retries_enabled:
        return False
    return int(tags.get(RETRY_NUMBER_TAG, "0")) < instance.run_retries_max_retries


def _metadata(done: PartitionImport) -> dict[str, dg.MetadataValue]:
    stats = done.stats
    meta: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(stats.strike_rows),
        "snapshots": dg.MetadataValue.int(stats.snapshots),
        "strike_rows": dg.MetadataValue.int(stats.strike_rows),
        "dropped": dg.MetadataValue.json({k: v for k, v in stats.dropped.items() if v}),
        "replaced_strike_rows": dg.MetadataValue.int(stats.removed_strike_rows),
        "raw_file": dg.MetadataValue.path(str(done.raw_path)),
        "parquet": dg.MetadataValue.path(str(done.export.path)),
        "downloaded": dg.MetadataValue.bool(done.download is not None),
    }
    if stats.first_ts is not None and stats.last_ts is not None:
        meta["first_ts_ms"] = dg.MetadataValue.int(stats.first_ts)
        meta["last_ts_ms"] = dg.MetadataValue.int(stats.last_ts)
    if stats.backup is not None:
        meta["pre_image"] = dg.MetadataValue.path(str(stats.backup.strikes))
    if done.download is not None:
        meta["source"] = dg.MetadataValue.text(done.download.redacted_url)
        meta["url_sha256"] = dg.MetadataValue.text(done.download.url_hash)
        meta["file_sha256"] = dg.MetadataValue.text(done.download.sha256)
    return meta


@dg.asset(
    key=HISTORY_IMPORT,
    partitions_def=gex_partitions,
    group_name=GROUP,
    pool=DUCKDB_WRITER_POOL,
    kinds={"duckdb", "parquet"},
    description=(
        "A GEXBot day file imported into gex_snapshots / gex_strikes (the partition's slice is "
        "replaced atomically, old rows kept under data/backups) and exported to Parquet. The raw "
        "file is kept under data/source/gexbot/<TICKER>/<endpoint>/ for backfills."
    ),
)
def gex_history_import(
    context: dg.AssetExecutionContext,
    config: HistoryImportConfig,
    duckdb_database: DuckDBDatabase,
    parquet: ParquetStore,
) -> dg.MaterializeResult:
    """Download (when needed) and import one feed-day, then export its Parquet file."""
    trade_date, ticker, endpoint = parse_gex_partition_key(context.partition_key)
    target = PartitionTarget(trade_date, ticker, endpoint)
    request_id = context.run.tags.get(REQUEST_TAG)
    try:
        done = import_partition(
            target,
            connect=duckdb_database.connect,
            settings=Settings.from_env(),
            history=HistorySettings.from_env(),
            parquet_root=parquet.root_dir(),
            request_id=request_id,
            force=config.force,
            run_id=context.run.run_id,
            will_retry=run_will_be_retried(context.instance, context.run.tags),
        )
    except HistoryImportFailed as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(
        "%s: %d snapshots, %d strike rows imported (dropped: %s)",
        target,
        done.stats.snapshots,
        done.stats.strike_rows,
        {k: v for k, v in done.stats.dropped.items() if v} or "none",
    )
    context.log_event(
        dg.AssetMaterialization(
            GEX_PARQUET,
            partition=context.partition_key,
            metadata={
                "dagster/row_count": dg.MetadataValue.int(done.export.rows),
                "path": dg.MetadataValue.path(str(done.export.path)),
            },
        )
    )
    return dg.MaterializeResult(metadata=_metadata(done))


history_assets = [gex_history_import]
