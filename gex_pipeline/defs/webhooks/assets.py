"""Webhook assets: the tables of `/uw` messages (built by `tables.py`) and their staging source.

`universal_webhooks`, `option_trades_events` and `market_agg_state` are partitioned by
America/New_York trading session. Messages reach them through the live loader
(`gex-pipeline live-loader`, outside runs), which reports a runless materialization for each
trading date of each table that received rows, at most every `GEX_LIVE_REPORT_SECONDS`.
"""

import dagster as dg

from gex_pipeline.defs.metadata import (
    MARKET_AGG_STATE_SCHEMA,
    OPTION_TRADES_EVENTS_SCHEMA,
    OWNERS,
    UNIVERSAL_WEBHOOKS_SCHEMA,
    defined_here,
    source_spec,
    table_metadata,
    tags,
)
from gex_pipeline.defs.partitions import trading_date_partitions

GROUP = "webhooks"
UW_STAGING_STREAM = dg.AssetKey(["staging", "uw"])
UNIVERSAL_WEBHOOKS = dg.AssetKey("universal_webhooks")
OPTION_TRADES_EVENTS = dg.AssetKey("option_trades_events")
MARKET_AGG_STATE = dg.AssetKey("market_agg_state")

uw_staging_spec = source_spec(
    UW_STAGING_STREAM,
    "webhooks",
    "Sealed /uw webhook message segments written by the ingest API under data/staging/uw/ "
    "(NDJSON, docs/staging.md); moved to processed/ once loaded.",
)

webhook_table_specs = [
    dg.AssetSpec(
        key,
        deps=[UW_STAGING_STREAM],
        partitions_def=trading_date_partitions,
        group_name=GROUP,
        kinds={"duckdb", "deltalake"},
        owners=OWNERS,
        tags=tags("webhooks", "table"),
        metadata={**table_metadata(key.path[-1], schema), **defined_here()},
        description=f"{description}; see docs/schema.md.",
    )
    for key, schema, description in (
        (
            UNIVERSAL_WEBHOOKS,
            UNIVERSAL_WEBHOOKS_SCHEMA,
            "Every stored /uw message, raw, keyed by message id",
        ),
        (
            OPTION_TRADES_EVENTS,
            OPTION_TRADES_EVENTS_SCHEMA,
            "Option trades flattened and typed, keyed by trade id",
        ),
        (
            MARKET_AGG_STATE,
            MARKET_AGG_STATE_SCHEMA,
            "Market-state aggregates, keyed by trade date and timestamp",
        ),
    )
]
