"""Jobs the webhook sensors launch."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.dagster_compat import partitioned_check_job
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.webhooks.checks import webhook_check_specs
from gex_pipeline.defs.webhooks.freshness import stream_freshness
from gex_pipeline.defs.webhooks.parquet import OPTION_TRADES_PARQUET

# The day's checks run first: a failed ERROR check (blocking) skips the export.
option_trades_parquet_job = dg.define_asset_job(
    "option_trades_parquet_job",
    selection=dg.AssetSelection.assets(OPTION_TRADES_PARQUET)
    | dg.AssetSelection.checks(*(spec.key for spec in webhook_check_specs)),
    description="Check one trading date of option trades, then export it to Parquet.",
    tags={"dagster/retry_on_asset_or_op_failure": "false"},
)
option_trades_checks_job = partitioned_check_job(
    "option_trades_checks_job",
    [*(spec.key for spec in webhook_check_specs), stream_freshness.check_key],
    trading_date_partitions,
    description="Daily checks of option trades and the /uw stream's freshness (one run per "
    "trading date).",
    tags={"dagster/retry_on_asset_or_op_failure": "false"},
)

webhook_jobs = [option_trades_parquet_job, option_trades_checks_job]
