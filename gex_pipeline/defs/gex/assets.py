"""GEX assets: the live micro-batch load, the per date x feed Parquet export, the staging stream.

`gex_snapshots` and `gex_strikes` are the DuckDB tables, partitioned by date x feed and rebuilt by
`gex_tables` (tables.py). Live data reaches them through `gex_live_batch`, which reports a runtime
materialization for each affected partition.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterable, Iterator

import dagster as dg

from gex_pipeline.defs.gex.keys import (
    GEX_PARQUET,
    GEX_READER_VIEWS,
    GEX_SNAPSHOTS,
    GEX_STAGING_STREAM,
    GEX_STRIKES,
    GROUP,
    SOURCES_GROUP,
)
from gex_pipeline.defs.gex.reporting import (
    PartitionKey,
    batch_metadata,
    markdown_table,
    partition_counts,
    partition_metadata,
    snapshot_preview,
)
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.live import NO_REJECTED_SEGMENTS, LiveBatchConfig
from gex_pipeline.defs.metadata import (
    GEX_PARQUET_SCHEMA,
    OWNERS,
    PARQUET_FRESHNESS,
    defined_here,
    tags,
)
from gex_pipeline.defs.partition_runs import Metadata, PartitionFailed, materialize_each
from gex_pipeline.defs.partitions import (
    FEED_PARTITIONS_NAME,
    gex_partition_key,
    gex_partitions,
    parse_gex_partition_key,
)
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore, StagingArea
from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.db.views import ensure_reader_views
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.live_load import LoadReport, PartitionStats, load_segments_isolating
from gex_pipeline.lib.gex.parquet_export import EmptyPartition, export_partition
from gex_pipeline.lib.staging.layout import GEX_STREAM

LIVE_BATCH = dg.AssetKey("gex_live_batch")

gex_staging_spec = dg.AssetSpec(
    GEX_STAGING_STREAM,
    group_name=SOURCES_GROUP,
    kinds={"file"},
    owners=OWNERS,
    tags=tags("gex", "source"),
    metadata=defined_here(),
    description="Sealed /gex payload segments written by the ingest API under "
    "data/staging/gex/ (NDJSON, docs/staging.md); moved to processed/ once loaded.",
)

gex_reader_views_spec = dg.AssetSpec(
    GEX_READER_VIEWS,
    deps=[GEX_PARQUET],
    group_name=GROUP,
    kinds={"duckdb"},
    owners=OWNERS,
    tags=tags("gex", "publish"),
    metadata=defined_here(),
    description="data/gex_views.duckdb: read-only views over every exported Parquet file (view "
    "`gex_strikes`) for notebooks; created by the first gex_parquet run, always current.",
)


def _add_missing_feeds(instance: dg.DagsterInstance, partitions: Iterable[PartitionStats]) -> None:
    """Register feeds the sensor did not (e.g. a run launched by hand)."""
    feeds = {feed_key(p.ticker, p.endpoint) for p in partitions}
    missing = sorted(feeds - set(instance.get_dynamic_partitions(FEED_PARTITIONS_NAME)))
    if missing:
        instance.add_dynamic_partitions(FEED_PARTITIONS_NAME, missing)


def _partition_events(
    report: LoadReport,
    counts: dict[PartitionKey, tuple[int, int]],
    previews: dict[PartitionKey, str],
) -> list[dg.AssetMaterialization]:
    """One materialization per affected partition of `gex_snapshots` (and of `gex_strikes` when
    strike rows were added), with the batch's figures, the stored row count and a preview."""
    events = []
    for stats in report.partitions:
        key = (stats.trade_date, stats.ticker, stats.endpoint)
        partition = gex_partition_key(*key)
        snapshots, strikes = counts[key]
        snap_meta = partition_metadata(stats, snapshots, previews[key])
        events.append(
            dg.AssetMaterialization(GEX_SNAPSHOTS, partition=partition, metadata=snap_meta)
        )
        if stats.strikes_added:
            strike_meta = {**snap_meta, "dagster/row_count": dg.MetadataValue.int(strikes)}
            events.append(
                dg.AssetMaterialization(GEX_STRIKES, partition=partition, metadata=strike_meta)
            )
    return events


@dg.asset(
    key=LIVE_BATCH,
    group_name=GROUP,
    pool=DUCKDB_WRITER_POOL,
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            NO_REJECTED_SEGMENTS,
            asset=LIVE_BATCH,
            description="Every staged segment of the batch could be loaded (bad ones go to "
            "staging/gex/rejected/ with the reason).",
        )
    ],
    description="Loads every sealed /gex staging segment up to the sensor's bound into DuckDB.",
)
def gex_live_batch(
    context: dg.AssetExecutionContext,
    config: LiveBatchConfig,
    duckdb_database: DuckDBDatabase,
    staging: StagingArea,
) -> dg.MaterializeResult:
    """Load the batch exactly once, report each partition, then move its segments to processed/.

    Segments whose content breaks the staging contract are set aside in `rejected/` (the rest of
    the batch still loads) and fail the `no_rejected_segments` check.
    """
    segments = [s for s in staging.list_sealed(GEX_STREAM) if s.seq <= config.upper_seq]
    with duckdb_database.connect() as con:
        loaded = load_segments_isolating(con, segments, run_id=context.run.run_id)
        report = loaded.report
        counts = partition_counts(con, report.partitions)
        previews = {
            (p.trade_date, p.ticker, p.endpoint): snapshot_preview(con, p)
            for p in report.partitions
        }
    _add_missing_feeds(context.instance, report.partitions)
    for event in _partition_events(report, counts, previews):
        context.log_event(event)
    for name, reason in loaded.rejected.items():
        where = staging.reject(GEX_STREAM, name, reason)
        context.log.error("segment %s set aside in %s: %s", name, where, reason)
    moved = staging.mark_processed(
        GEX_STREAM, [s.name for s in segments if s.name not in loaded.rejected]
    )
    purged = staging.purge_processed(GEX_STREAM)
    context.log.info(
        "loaded %d segments (%d already loaded): %d snapshots, %d strikes, %d duplicates, "
        "%d conflicts",
        len(report.loaded_segments),
        len(report.already_loaded_segments),
        report.snapshots_added,
        report.strikes_added,
        report.duplicates,
        report.conflicts,
    )
    if report.conflicts:
        context.log.warning(
            "%d conflicting payloads kept in gex_conflicts (first arrival kept)", report.conflicts
        )
    check = dg.AssetCheckResult(
        check_name=NO_REJECTED_SEGMENTS,
        passed=not loaded.rejected,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rejected": dg.MetadataValue.int(len(loaded.rejected)),
            "reasons": dg.MetadataValue.md(
                markdown_table(("segment", "reason"), sorted(loaded.rejected.items()))
            ),
        },
    )
    return dg.MaterializeResult(
        metadata=batch_metadata(report, moved, len(purged)), check_results=[check]
    )


@dg.asset(
    key=GEX_PARQUET,
    deps=[GEX_STRIKES],
    partitions_def=gex_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    pool=DUCKDB_WRITER_POOL,
    kinds={"parquet", "duckdb"},
    owners=OWNERS,
    tags=tags("gex", "publish"),
    metadata={"dagster/column_schema": GEX_PARQUET_SCHEMA},
    freshness_policy=PARQUET_FRESHNESS,
    description="data/parquet/gexbot/<TICKER>/<endpoint>/<YYYYMMDD>.strikes.parquet (zstd).",
)
def gex_parquet(
    context: dg.AssetExecutionContext, duckdb_database: DuckDBDatabase, parquet: ParquetStore
) -> Iterator[dg.MaterializeResult]:
    """Export each feed-day of the run from `gex_strikes` to its Parquet file (atomic replace)."""

    def build(key: str) -> dict[dg.AssetKey, Metadata]:
        trade_date, ticker, endpoint = parse_gex_partition_key(key)
        with duckdb_database.connect() as con:
            try:
                result = export_partition(con, parquet.root_dir(), ticker, endpoint, trade_date)
            except EmptyPartition as exc:
                raise PartitionFailed(f"no data for this feed-day: {exc}") from None
        import polars as pl

        head = pl.read_parquet(result.path, n_rows=5)
        return {
            GEX_PARQUET: {
                "dagster/row_count": dg.MetadataValue.int(result.rows),
                "path": dg.MetadataValue.path(str(result.path)),
                "bytes": dg.MetadataValue.int(result.path.stat().st_size),
                "preview": dg.MetadataValue.md(markdown_table(head.columns, head.rows())),
            }
        }

    results = materialize_each(context, [GEX_PARQUET], build)
    if ensure_reader_views(parquet.views_path(), parquet.root_dir()):
        context.log_event(
            dg.AssetMaterialization(
                GEX_READER_VIEWS,
                metadata={"path": dg.MetadataValue.path(str(parquet.views_path()))},
            )
        )
    yield from results


gex_assets = [gex_staging_spec, gex_tables, gex_live_batch, gex_parquet, gex_reader_views_spec]
