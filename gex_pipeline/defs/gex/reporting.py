"""Metadata shown in the Dagster UI for live loads and exports: counts, times, small tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import dagster as dg

from gex_pipeline.defs.metadata import load_metadata
from gex_pipeline.lib.gex.live_load import PartitionStats

if TYPE_CHECKING:
    import duckdb


PartitionKey = tuple[date, str, str]
"""(trade_date, ticker, endpoint) of one date x feed partition."""


class SegmentReport(Protocol):
    """What every live load report tells about its segments and records."""

    loaded_segments: list[str]
    already_loaded_segments: list[str]
    records: int


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A small markdown table (the UI renders it on the materialization)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def segment_metadata(report: SegmentReport, moved: int, purged: int) -> dict[str, dg.MetadataValue]:
    """The staging bookkeeping of a live batch: segments loaded, already loaded, moved, purged."""
    return {
        "segments_loaded": dg.MetadataValue.int(len(report.loaded_segments)),
        "segments_already_loaded": dg.MetadataValue.int(len(report.already_loaded_segments)),
        "segments_moved": dg.MetadataValue.int(moved),
        "segments_purged": dg.MetadataValue.int(purged),
        "records": dg.MetadataValue.int(report.records),
    }


def partition_metadata(stats: PartitionStats, total_rows: int) -> dict[str, dg.MetadataValue]:
    """Metadata of one date x feed materialization reported by a live load."""
    added = {
        "snapshots_added": stats.snapshots_added,
        "strikes_added": stats.strikes_added,
        "events_added": stats.events_added,
    }
    span = ("timestamp", stats.first_timestamp, stats.last_timestamp)
    return load_metadata(total_rows, added, stats.duplicates, stats.conflicts, span)


def partition_counts(
    con: duckdb.DuckDBPyConnection, stats: Sequence[PartitionStats]
) -> dict[PartitionKey, tuple[int, int]]:
    """`(snapshot rows, strike rows)` stored for each partition in `stats`, in two grouped queries.

    The date range filter lets DuckDB skip row groups by their zone maps on large tables.
    """
    if not stats:
        return {}
    keys = {
        "first": min(p.trade_date for p in stats),
        "last": max(p.trade_date for p in stats),
        "dates": [p.trade_date for p in stats],
        "tickers": [p.ticker for p in stats],
        "endpoints": [p.endpoint for p in stats],
    }
    wanted = (
        "SELECT unnest($dates) AS trade_date, unnest($tickers) AS ticker,"
        " unnest($endpoints) AS endpoint"
    )
    counts: dict[PartitionKey, list[int]] = {
        (p.trade_date, p.ticker, p.endpoint): [0, 0] for p in stats
    }
    for index, table in enumerate(("gex_snapshots", "gex_strikes")):
        rows = con.execute(
            f"SELECT t.trade_date, t.ticker, t.endpoint, count(*) FROM {table} t"
            f" SEMI JOIN ({wanted}) w USING (trade_date, ticker, endpoint)"
            " WHERE t.trade_date BETWEEN $first AND $last GROUP BY ALL",
            keys,
        ).fetchall()
        for trade_date, ticker, endpoint, count in rows:
            counts[(trade_date, ticker, endpoint)][index] = count
    return {key: (value[0], value[1]) for key, value in counts.items()}
