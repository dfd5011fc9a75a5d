"""GEX assets: the staging source, the per date x feed Parquet export and the reader views.

`gex_snapshots` and `gex_strikes` are the DuckDB tables, partitioned by date x feed and rebuilt by
`gex_tables` (tables.py). Live data reaches them through the live loader (`gex-pipeline
live-loader`, outside runs), which reports a runless materialization of each partition it changed.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterator

import dagster as dg

from gex_pipeline.defs.gex.keys import (
    GEX_PARQUET,
    GEX_READER_VIEWS,
    GEX_STAGING_STREAM,
    GEX_STRIKES,
    GROUP,
    SOURCES_GROUP,
)
from gex_pipeline.defs.gex.publish import publish_gate
from gex_pipeline.defs.gex.reporting import (
    markdown_table,
)
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.metadata import (
    GEX_PARQUET_SCHEMA,
    OWNERS,
    PARQUET_FRESHNESS,
    defined_here,
    tags,
)
from gex_pipeline.defs.partition_runs import Metadata, PartitionFailed, materialize_each
from gex_pipeline.defs.partitions import (
    gex_partitions,
    parse_gex_partition_key,
)
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore
from gex_pipeline.lib.db.views import ensure_reader_views
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.day_chart import chart_markdown
from gex_pipeline.lib.gex.parquet_export import EmptyPartition, export_partition

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
    description="data/parquet/gexbot/<TICKER>/<endpoint>/<YYYYMMDD>.strikes.parquet (zstd); "
    "not written while an ERROR integrity check of the partition fails.",
)
def gex_parquet(
    context: dg.AssetExecutionContext, duckdb_database: DuckDBDatabase, parquet: ParquetStore
) -> Iterator[dg.MaterializeResult]:
    """Export each feed-day of the run from `gex_strikes` to its Parquet file (atomic replace),
    unless an ERROR integrity check of it fails (the previous file stays; the failure says why)."""

    def build(key: str) -> dict[dg.AssetKey, Metadata]:
        trade_date, ticker, endpoint = parse_gex_partition_key(key)
        with duckdb_database.connect() as con:
            try:
                publish_gate(con, trade_date, ticker, endpoint)
            except dg.Failure as exc:
                raise PartitionFailed(exc.description or "an ERROR check failed") from None
            try:
                result = export_partition(con, parquet.root_dir(), ticker, endpoint, trade_date)
            except EmptyPartition as exc:
                raise PartitionFailed(f"no data for this feed-day: {exc}") from None
        import polars as pl

        head = pl.read_parquet(result.path, n_rows=5)
        chart = chart_markdown(parquet.root_dir(), ticker, endpoint, trade_date)
        return {
            GEX_PARQUET: {
                "dagster/row_count": dg.MetadataValue.int(result.rows),
                "path": dg.MetadataValue.path(str(result.path)),
                "bytes": dg.MetadataValue.int(result.path.stat().st_size),
                "preview": dg.MetadataValue.md(markdown_table(head.columns, head.rows())),
                "day_chart": dg.MetadataValue.md(chart),
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


gex_assets = [gex_staging_spec, gex_tables, gex_parquet, gex_reader_views_spec]
