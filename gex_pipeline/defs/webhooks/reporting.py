"""Metadata shown in the Dagster UI for webhook loads: figures per trading date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from gex_pipeline.defs.metadata import load_metadata
from gex_pipeline.lib.webhooks.live_load import DayStats

if TYPE_CHECKING:
    import duckdb

WEBHOOK_TABLES: tuple[str, ...] = ("universal_webhooks", "option_trades_events", "market_agg_state")


def day_counts(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[str, dict[date, int]]:
    """Rows stored per webhook table and trading date in `days`, one grouped query per table."""
    counts: dict[str, dict[date, int]] = {t: dict.fromkeys(days, 0) for t in WEBHOOK_TABLES}
    if not days:
        return counts
    for table in WEBHOOK_TABLES:
        rows = con.execute(
            f"SELECT trade_date, count(*) FROM {table}"
            " WHERE trade_date BETWEEN $first AND $last AND list_contains($days, trade_date)"
            " GROUP BY trade_date",
            {"first": min(days), "last": max(days), "days": list(days)},
        ).fetchall()
        counts[table].update(dict(rows))
    return counts


def day_metadata(stats: DayStats, rows: int) -> dict[str, dg.MetadataValue]:
    """Metadata of one trading-date materialization of a webhook table."""
    added = {
        "messages_added": stats.messages_added,
        "trades_added": stats.trades_added,
        "market_states_added": stats.market_added,
        "other_messages_added": stats.other_added,
    }
    span = ("received_at", stats.first_received_at, stats.last_received_at)
    return load_metadata(
        rows, added, stats.duplicates, stats.conflicts, span, cast_failures=stats.cast_failures
    )
