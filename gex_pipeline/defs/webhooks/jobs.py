"""Jobs of the webhooks domain: the export the sensor launches and the daily re-check."""

# No `from __future__ import annotations` here: Dagster reads the resource types from the
# annotations of decorated functions when the definitions load.
from datetime import date

import dagster as dg

from gex_pipeline.defs.integrity import checks_job, record_verdicts
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.resources import Tables
from gex_pipeline.defs.webhooks.checks import webhook_check_specs
from gex_pipeline.defs.webhooks.parquet import OPTION_TRADES_PARQUET
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.lake.tables import Partition
from gex_pipeline.lib.webhooks.integrity import WEBHOOK_CHECKS, day_checks

# The day's checks run first: a failed ERROR check (blocking) skips the export.
option_trades_parquet_job = dg.define_asset_job(
    "option_trades_parquet_job",
    selection=dg.AssetSelection.assets(OPTION_TRADES_PARQUET).without_checks()
    | dg.AssetSelection.checks(*(spec.key for spec in webhook_check_specs)),
    description="Check one trading date of option trades, then export it to Parquet.",
)


@dg.op(
    pool=DUCKDB_WRITER_POOL,
    description="Evaluate the option-trade checks of the run's trading date.",
)
def option_trades_day_checks(context: dg.OpExecutionContext, tables: Tables) -> None:
    """Every option-trade check of one date, as asset check evaluations."""
    day = date.fromisoformat(str(context.partition_key))
    store = tables.store()
    store.claim(Partition(day))
    with store.reader(Partition(day)) as con:
        results = day_checks(con, day)
    record_verdicts(context, WEBHOOK_CHECKS, f"option trades {day}", results)


option_trades_checks_job = checks_job(
    "option_trades_checks_job",
    option_trades_day_checks,
    trading_date_partitions,
    "Daily checks of option trades (one run per trading date; a range from the job's "
    "Partitions tab is a backfill).",
)

webhook_jobs = [option_trades_parquet_job, option_trades_checks_job]
