"""Webhook assets: the live micro-batch load of `/uw` messages into DuckDB.

`universal_webhooks`, `option_trades_events` and `market_agg_state` are the DuckDB tables,
partitioned by America/New_York trading date. Messages reach them through `uw_live_batch`: one
run per sensor tick loads every new sealed segment and reports a runtime materialization for each
affected trading date of each table that received rows.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from datetime import date

import dagster as dg

from gex_pipeline.defs.gex.keys import SOURCES_GROUP
from gex_pipeline.defs.gex.reporting import markdown_table
from gex_pipeline.defs.live import NO_REJECTED_SEGMENTS, LiveBatchConfig
from gex_pipeline.defs.metadata import (
    LIVE_FRESHNESS,
    MARKET_AGG_STATE_SCHEMA,
    OPTION_TRADES_EVENTS_SCHEMA,
    OWNERS,
    UNIVERSAL_WEBHOOKS_SCHEMA,
    defined_here,
    table_metadata,
    tags,
)
from gex_pipeline.defs.partitions import is_partition_date, trading_date_partitions
from gex_pipeline.defs.resources import DuckDBDatabase, StagingArea
from gex_pipeline.defs.webhooks.reporting import (
    batch_metadata,
    day_counts,
    day_metadata,
    day_preview,
)
from gex_pipeline.lib.calendar.trading_date import date_key
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.staging.layout import UW_STREAM
from gex_pipeline.lib.webhooks.live_load import DayStats, load_uw_segments_isolating

GROUP = "webhooks"
UW_LIVE_BATCH = dg.AssetKey("uw_live_batch")
UW_STAGING_STREAM = dg.AssetKey(["staging", "uw"])
UNIVERSAL_WEBHOOKS = dg.AssetKey("universal_webhooks")
OPTION_TRADES_EVENTS = dg.AssetKey("option_trades_events")
MARKET_AGG_STATE = dg.AssetKey("market_agg_state")
NO_CAST_FAILURES = "no_cast_failures"

uw_staging_spec = dg.AssetSpec(
    UW_STAGING_STREAM,
    group_name=SOURCES_GROUP,
    kinds={"file"},
    owners=OWNERS,
    tags=tags("webhooks", "source"),
    metadata=defined_here(),
    description="Sealed /uw webhook message segments written by the ingest API under "
    "data/staging/uw/ (NDJSON, docs/staging.md); moved to processed/ once loaded.",
)

webhook_table_specs = [
    dg.AssetSpec(
        key,
        deps=[UW_STAGING_STREAM],
        partitions_def=trading_date_partitions,
        group_name=GROUP,
        kinds={"duckdb"},
        owners=OWNERS,
        tags=tags("webhooks", "table"),
        metadata={**table_metadata(key.path[-1], schema), **defined_here()},
        freshness_policy=LIVE_FRESHNESS,
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


def _touched(stats: DayStats, key: dg.AssetKey) -> bool:
    """Whether a day's materialization of table `key` is reported: always for the message table,
    for the trade and market-state tables only when rows were added."""
    if key == OPTION_TRADES_EVENTS:
        return stats.trades_added > 0
    if key == MARKET_AGG_STATE:
        return stats.market_added > 0
    return True


def _day_events(
    days: list[DayStats], counts: dict[str, dict[date, int]], previews: dict[tuple[str, date], str]
) -> list[dg.AssetMaterialization]:
    """One materialization per trading date and table the batch touched (see `_touched`)."""
    return [
        dg.AssetMaterialization(
            key,
            partition=date_key(stats.trade_date),
            metadata=day_metadata(
                stats,
                counts[key.path[-1]][stats.trade_date],
                previews[(key.path[-1], stats.trade_date)],
            ),
        )
        for stats in days
        for key in (UNIVERSAL_WEBHOOKS, OPTION_TRADES_EVENTS, MARKET_AGG_STATE)
        if _touched(stats, key)
    ]


def _reportable(context: dg.AssetExecutionContext, days: list[DayStats]) -> list[DayStats]:
    """The days that are partitions of the webhook tables; others are stored but only logged."""
    inside = [d for d in days if is_partition_date(d.trade_date)]
    for stats in (d for d in days if d not in inside):
        context.log.warning(
            "%d messages stored for %s, outside the daily partitions (no materialization)",
            stats.messages_added,
            stats.trade_date,
        )
    return inside


@dg.asset(
    key=UW_LIVE_BATCH,
    group_name=GROUP,
    pool=DUCKDB_WRITER_POOL,
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            NO_REJECTED_SEGMENTS,
            asset=UW_LIVE_BATCH,
            description="Every staged segment of the batch could be loaded (bad ones go to "
            "staging/uw/rejected/ with the reason).",
        ),
        dg.AssetCheckSpec(
            NO_CAST_FAILURES,
            asset=UW_LIVE_BATCH,
            description="Every present trade / market-state value cast to its column type "
            "(failures are stored as NULL and named in the row's cast_failures).",
        ),
    ],
    description="Loads every sealed /uw staging segment up to the sensor's bound into DuckDB.",
)
def uw_live_batch(
    context: dg.AssetExecutionContext,
    config: LiveBatchConfig,
    duckdb_database: DuckDBDatabase,
    staging: StagingArea,
) -> dg.MaterializeResult:
    """Load the batch exactly once, report each trading date, then move its segments to processed/.

    Segments whose content breaks the staging contract are set aside in `rejected/` (the rest of
    the batch still loads) and fail the `no_rejected_segments` check.
    """
    segments = [s for s in staging.list_sealed(UW_STREAM) if s.seq <= config.upper_seq]
    with duckdb_database.connect() as con:
        loaded = load_uw_segments_isolating(con, segments, run_id=context.run.run_id)
        report = loaded.report
        days = _reportable(context, report.by_day())
        counts = day_counts(con, [d.trade_date for d in days])
        previews = {
            (table, d.trade_date): day_preview(con, table, d.trade_date)
            for d in days
            for table in counts
        }
    for event in _day_events(days, counts, previews):
        context.log_event(event)
    for name, reason in loaded.rejected.items():
        where = staging.reject(UW_STREAM, name, reason)
        context.log.error("segment %s set aside in %s: %s", name, where, reason)
    moved = staging.mark_processed(
        UW_STREAM, [s.name for s in segments if s.name not in loaded.rejected]
    )
    purged = staging.purge_processed(UW_STREAM)
    context.log.info(
        "loaded %d segments (%d already loaded): %d messages, %d trades, %d market states, "
        "%d duplicates, %d rows with cast failures",
        len(report.loaded_segments),
        len(report.already_loaded_segments),
        report.messages_added,
        report.trades_added,
        report.market_added,
        report.duplicates,
        report.cast_failures,
    )
    if report.conflicts:
        context.log.warning(
            "%d messages repeat a stored id with another payload: kept in webhook_conflicts "
            "(first arrival kept)",
            report.conflicts,
        )
    if report.cast_failures:
        context.log.warning(
            "%d rows had values that did not cast (NULL, named in cast_failures)",
            report.cast_failures,
        )
    checks = [
        dg.AssetCheckResult(
            check_name=NO_REJECTED_SEGMENTS,
            passed=not loaded.rejected,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rejected": dg.MetadataValue.int(len(loaded.rejected)),
                "reasons": dg.MetadataValue.md(
                    markdown_table(("segment", "reason"), sorted(loaded.rejected.items()))
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=NO_CAST_FAILURES,
            passed=not report.cast_failures,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_with_cast_failures": dg.MetadataValue.int(report.cast_failures)},
        ),
    ]
    return dg.MaterializeResult(
        metadata=batch_metadata(report, moved, len(purged)), check_results=checks
    )


webhook_assets = [uw_staging_spec, uw_live_batch, *webhook_table_specs]
