"""Daily integrity checks of option trades, on `option_trades_events` per trading date.

One partitioned multi-asset check op runs the registry `WEBHOOK_CHECKS`
(`gex_pipeline.lib.webhooks.integrity`) over one day with one DuckDB connection. ERROR checks
block: in the export job they run before `option_trades_parquet`, and a failure keeps the day out
of Parquet.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterator
from datetime import date

import dagster as dg

from gex_pipeline.defs.integrity import check_result, check_specs, judged
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.resources import Tables
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.lake.tables import Partition
from gex_pipeline.lib.webhooks.integrity import WEBHOOK_CHECKS, day_checks

webhook_check_specs = check_specs(WEBHOOK_CHECKS, trading_date_partitions)


@dg.multi_asset_check(
    specs=webhook_check_specs,
    name="option_trades_checks",
    pool=DUCKDB_WRITER_POOL,
    can_subset=True,
    description="Daily checks of option trades (gex_pipeline/lib/webhooks/integrity.py).",
)
def option_trades_checks(
    context: dg.AssetCheckExecutionContext, tables: Tables
) -> Iterator[dg.AssetCheckResult]:
    """Run the selected option-trade checks over the run's trading date."""
    day = date.fromisoformat(str(context.partition_key))
    selected = {key.name for key in context.selected_asset_check_keys}
    store = tables.store()
    store.claim(Partition(day))
    with store.reader(Partition(day)) as con:
        results = day_checks(con, day, names=selected)
    for result in judged(context.log, f"option trades {day}", results):
        yield check_result(result, WEBHOOK_CHECKS)


webhook_checks = [option_trades_checks]
