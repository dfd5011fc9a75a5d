"""Webhook assets: the DuckDB tables of `/uw` messages.

`universal_webhooks`, `option_trades_events` and `market_agg_state` are partitioned by
America/New_York trading date. Messages reach them through the live loader
(`gex-pipeline live-loader`, outside runs), which reports a runtime materialization for each
trading date of each table that received rows, at most about once a minute.
"""

import dagster as dg

from gex_pipeline.defs.partitions import trading_date_partitions

GROUP = "webhooks"
UW_STAGING = dg.AssetKey("uw_staging")
UNIVERSAL_WEBHOOKS = dg.AssetKey("universal_webhooks")
OPTION_TRADES_EVENTS = dg.AssetKey("option_trades_events")
MARKET_AGG_STATE = dg.AssetKey("market_agg_state")

uw_staging_spec = dg.AssetSpec(
    UW_STAGING,
    group_name=GROUP,
    kinds={"file"},
    description="Sealed /uw staging segments (data/staging/uw/), written by the ingest API and "
    "loaded by the live loader; processed ones are kept for replay (docs/staging.md).",
)

webhook_table_specs = [
    dg.AssetSpec(
        key,
        deps=[UW_STAGING],
        partitions_def=trading_date_partitions,
        group_name=GROUP,
        kinds={"duckdb"},
        description=f"{description}; see docs/schema.md.",
    )
    for key, description in (
        (UNIVERSAL_WEBHOOKS, "Every stored /uw message, raw, keyed by message id"),
        (OPTION_TRADES_EVENTS, "Option trades flattened and typed, keyed by trade id"),
        (MARKET_AGG_STATE, "Market-state aggregates, keyed by trade date and timestamp"),
    )
]

webhook_assets = [uw_staging_spec, *webhook_table_specs]
