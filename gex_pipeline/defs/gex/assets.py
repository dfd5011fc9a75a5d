"""GEX assets: the DuckDB tables of the live feeds and the per date x feed Parquet export.

`gex_snapshots` and `gex_strikes` are the DuckDB tables, partitioned by date x feed. Live data
reaches them through the live loader (`gex-pipeline live-loader`, outside runs), which reports
a runtime materialization of each partition it changed, at most about once a minute.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.

import dagster as dg

from gex_pipeline.defs.gex.reporting import (
    markdown_table,
)
from gex_pipeline.defs.partitions import (
    gex_partitions,
    parse_gex_partition_key,
)
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore
from gex_pipeline.lib.db.views import ensure_reader_views
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.parquet_export import export_partition

GROUP = "gex"
GEX_STAGING = dg.AssetKey("gex_staging")
GEX_SNAPSHOTS = dg.AssetKey("gex_snapshots")
GEX_STRIKES = dg.AssetKey("gex_strikes")
GEX_PARQUET = dg.AssetKey("gex_parquet")

gex_staging_spec = dg.AssetSpec(
    GEX_STAGING,
    group_name=GROUP,
    kinds={"file"},
    description="Sealed /gex staging segments (data/staging/gex/), written by the ingest API and "
    "loaded by the live loader; processed ones are kept for replay (docs/staging.md).",
)

gex_table_specs = [
    dg.AssetSpec(
        GEX_SNAPSHOTS,
        deps=[GEX_STAGING],
        partitions_def=gex_partitions,
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per ticker, endpoint, timestamp (epoch ms UTC); see docs/schema.md.",
    ),
    dg.AssetSpec(
        GEX_STRIKES,
        deps=[GEX_STAGING],
        partitions_def=gex_partitions,
        group_name=GROUP,
        kinds={"duckdb"},
        description="One row per ticker, endpoint, timestamp, strike; see docs/schema.md.",
    ),
]


@dg.asset(
    key=GEX_PARQUET,
    deps=[GEX_STRIKES],
    partitions_def=gex_partitions,
    group_name=GROUP,
    pool=DUCKDB_WRITER_POOL,
    kinds={"parquet", "duckdb"},
    description="data/parquet/gexbot/<TICKER>/<endpoint>/<YYYYMMDD>.strikes.parquet (zstd).",
)
def gex_parquet(
    context: dg.AssetExecutionContext, duckdb_database: DuckDBDatabase, parquet: ParquetStore
) -> dg.MaterializeResult:
    """Export one feed-day of `gex_strikes` to its Parquet file (atomic replace)."""
    trade_date, ticker, endpoint = parse_gex_partition_key(context.partition_key)
    with duckdb_database.connect() as con:
        result = export_partition(con, parquet.root_dir(), ticker, endpoint, trade_date)
    ensure_reader_views(parquet.views_path(), parquet.root_dir())
    import polars as pl

    head = pl.read_parquet(result.path, n_rows=5)
    preview = markdown_table(head.columns, head.rows())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(result.rows),
            "path": dg.MetadataValue.path(str(result.path)),
            "bytes": dg.MetadataValue.int(result.path.stat().st_size),
            "preview": dg.MetadataValue.md(preview),
        }
    )


gex_assets = [gex_staging_spec, gex_parquet, *gex_table_specs]
