"""Daily integrity checks of option trades, on `option_trades_events` per trading date.

One partitioned multi-asset check op runs `gex_pipeline.lib.webhooks.integrity` over one day with
one DuckDB connection. ERROR checks block: in the export job they run before
`option_trades_parquet`, and a failure keeps the day out of Parquet.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterator
from datetime import date

import dagster as dg

from gex_pipeline.defs.gex.checks import check_metadata
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.resources import Tables
from gex_pipeline.defs.webhooks.assets import OPTION_TRADES_EVENTS
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.integrity import ERROR
from gex_pipeline.lib.lake.tables import Partition
from gex_pipeline.lib.metrics.pipeline import record_checks
from gex_pipeline.lib.webhooks.integrity import WEBHOOK_PUBLISH_GATES, day_checks

WEBHOOK_CHECK_DESCRIPTIONS: dict[str, str] = {
    "unique_trade_ids": "Every option trade id is stored once for the day.",
    "occ_symbols_parse": "Every option_chain_id is an OCC symbol (root, expiry, type, strike).",
    "executed_at_in_day": "Every trade has an executed_at on the partition's New York date.",
    "trade_cast_failures": "No present trade value failed its cast (cast_failures is empty).",
}

webhook_check_specs = [
    dg.AssetCheckSpec(
        name,
        asset=OPTION_TRADES_EVENTS,
        description=text,
        partitions_def=trading_date_partitions,
        blocking=name in WEBHOOK_PUBLISH_GATES,
    )
    for name, text in WEBHOOK_CHECK_DESCRIPTIONS.items()
]


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
    record_checks((result.name, result.passed) for result in results)
    for result in results:
        if not result.passed:
            context.log.warning("option trades %s %s failed: %s", day, result.name, result.counts)
        yield dg.AssetCheckResult(
            asset_key=OPTION_TRADES_EVENTS,
            check_name=result.name,
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR
            if result.severity == ERROR
            else dg.AssetCheckSeverity.WARN,
            metadata=check_metadata(result),
        )


webhook_checks = [option_trades_checks]
