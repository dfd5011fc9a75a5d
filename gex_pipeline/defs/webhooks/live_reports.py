"""Runtime materializations of the webhook tables, reported by the live loader (no run)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg

from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.webhooks.assets import (
    MARKET_AGG_STATE,
    OPTION_TRADES_EVENTS,
    UNIVERSAL_WEBHOOKS,
)
from gex_pipeline.defs.webhooks.reporting import day_counts, day_metadata
from gex_pipeline.lib.calendar.trading_date import date_key
from gex_pipeline.lib.webhooks.live_load import DayStats

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)


def _touched(stats: DayStats, key: dg.AssetKey) -> bool:
    """Whether a day's materialization of table `key` is reported: always for the message table,
    for the trade and market-state tables only when rows were added."""
    if key == OPTION_TRADES_EVENTS:
        return stats.trades_added > 0
    if key == MARKET_AGG_STATE:
        return stats.market_added > 0
    return True


def webhook_materializations(
    con: duckdb.DuckDBPyConnection, days: Sequence[DayStats]
) -> list[dg.AssetMaterialization]:
    """One materialization per trading date and webhook table the figures touched; days that are
    no partition of the webhook tables (e.g. a weekend) are stored but only logged."""
    reportable = [
        d for d in days if trading_date_partitions.has_partition_key(date_key(d.trade_date))
    ]
    for stats in (d for d in days if d not in reportable):
        logger.warning(
            "%d messages stored for %s, outside the daily partitions (no materialization)",
            stats.messages_added,
            stats.trade_date,
        )
    counts = day_counts(con, [d.trade_date for d in reportable])
    return [
        dg.AssetMaterialization(
            key,
            partition=date_key(stats.trade_date),
            metadata=day_metadata(stats, counts[key.path[-1]][stats.trade_date]),
        )
        for stats in reportable
        for key in (UNIVERSAL_WEBHOOKS, OPTION_TRADES_EVENTS, MARKET_AGG_STATE)
        if _touched(stats, key)
    ]
