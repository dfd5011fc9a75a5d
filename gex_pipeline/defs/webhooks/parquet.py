"""`option_trades_parquet`: one trading date of option trades exported to Parquet for notebooks.

`data/parquet/uw/option_trades/<YYYYMMDD>.parquet` (zstd, atomic replace). Not written while an
ERROR check of the day's trades fails (the previous file stays; the run's failure says why).
"""

# No `from __future__ import annotations` here: Dagster reads the resource types from the
# annotations of decorated functions when the definitions load.
from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.metadata import OWNERS, tags
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.resources import Tables
from gex_pipeline.defs.webhooks.assets import GROUP, OPTION_TRADES_EVENTS
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.lake.tables import Partition
from gex_pipeline.lib.metrics.pipeline import record_partitions
from gex_pipeline.lib.webhooks.integrity import WEBHOOK_PUBLISH_GATES, day_checks
from gex_pipeline.lib.webhooks.parquet_export import export_option_trades

OPTION_TRADES_PARQUET = dg.AssetKey("option_trades_parquet")


class UwParquetStore(dg.ConfigurableResource):
    """Root of the webhook Parquet files (`<root>/option_trades/<YYYYMMDD>.parquet`)."""

    root: str = Field(description="webhook Parquet root ($GEX_DATA_DIR/parquet/uw)")

    def root_dir(self) -> Path:
        """The webhook Parquet root directory."""
        return Path(self.root)


@dg.asset(
    key=OPTION_TRADES_PARQUET,
    deps=[OPTION_TRADES_EVENTS],
    partitions_def=trading_date_partitions,
    group_name=GROUP,
    pool=DUCKDB_WRITER_POOL,
    kinds={"parquet", "duckdb"},
    owners=OWNERS,
    tags=tags("webhooks", "publish"),
    description="data/parquet/uw/option_trades/<YYYYMMDD>.parquet (zstd); not written while an "
    "ERROR check of the day's option trades fails.",
)
def option_trades_parquet(
    context: dg.AssetExecutionContext, tables: Tables, uw_parquet: UwParquetStore
) -> dg.MaterializeResult:
    """Export one trading date of `option_trades_events` to its Parquet file (atomic replace)."""
    day = date.fromisoformat(str(context.partition_key))
    store = tables.store()
    store.claim(Partition(day))
    with store.reader(Partition(day)) as con:
        blockers = [
            r for r in day_checks(con, day, names=set(WEBHOOK_PUBLISH_GATES)) if not r.passed
        ]
        if blockers:
            record_partitions([OPTION_TRADES_PARQUET.to_user_string()], done=[], failed=["uw"])
            names = ", ".join(f"{r.name} {r.counts}" for r in blockers)
            raise dg.Failure(
                description=f"option trades {day}: not exported to Parquet, ERROR check(s) "
                f"failed: {names}. The previous file (if any) is unchanged.",
                allow_retries=False,
            )
        result = export_option_trades(con, uw_parquet.root_dir(), day)
    record_partitions([OPTION_TRADES_PARQUET.to_user_string()], done=["uw"])
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(result.rows),
            "path": dg.MetadataValue.path(str(result.path)),
            "bytes": dg.MetadataValue.int(result.path.stat().st_size),
        }
    )
