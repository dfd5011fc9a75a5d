"""Figures of each partition's `gex_strikes` rows, kept in the same transaction as the rows.

`gex_partition_figures` holds, per (ticker, endpoint, trade_date): the strike rows, the
natural-key duplicates among them (rows minus distinct (timestamp, strike)) and an
order-independent content hash (the sum of DuckDB's `hash()` of the exported columns of each row,
the checksum `parquet_reconciliation` compares). Every path that writes `gex_strikes` keeps them:
bulk writers (history replace and restore, staging rebuild, database rebuild) recompute the
slice they replaced (`record_slices`); the live micro-batch adds the rows of the snapshots it
inserted (`add_new_snapshots`, computed from the rows as stored, so rows an earlier writer left
at those timestamps count too).

`current_figures` hands the figures to the checks only when the partition's row count (one cheap
`count(*)`) still equals the recorded one: rows inserted or deleted by anything else make the
checks fall back to scanning the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.feed_day import SLICE_SQL
from gex_pipeline.lib.gex.parquet_export import EXPORT_COLUMNS

if TYPE_CHECKING:
    import duckdb

ROW_HASH = f"hash({', '.join(EXPORT_COLUMNS)})::HUGEINT"
_ROWS = f"gex_strikes WHERE {SLICE_SQL}"
# The figures of a set of strike rows, grouped by partition (keys counted first: cheaper than a
# count of distinct keys).
_FIGURES = f"""
SELECT ticker, endpoint, trade_date, sum(n)::BIGINT AS strike_rows,
       sum(n - 1)::BIGINT AS strike_key_duplicates, sum(h)::HUGEINT AS strike_hash
FROM (
    SELECT ticker, endpoint, trade_date, count(*) AS n, sum({ROW_HASH}) AS h
    FROM {{rows}} GROUP BY ticker, endpoint, trade_date, timestamp, strike
) GROUP BY ticker, endpoint, trade_date
"""


@dataclass(frozen=True)
class StrikeFigures:
    """Strike rows, natural-key duplicates and content hash of one partition."""

    rows: int
    key_duplicates: int
    content_hash: int


def figures_select(rows: str) -> str:
    """SELECT of the figures (columns of `gex_partition_figures`) of the strike rows `rows` (a
    table expression with a WHERE clause), one row per partition."""
    return _FIGURES.format(rows=rows)


# The figures of strike rows whose (timestamp, strike) keys are known to be unique: one pass,
# no grouping by key.
_UNIQUE_FIGURES = f"""
SELECT ticker, endpoint, trade_date, count(*)::BIGINT, 0::BIGINT, sum({ROW_HASH})::HUGEINT
FROM {{rows}} GROUP BY ticker, endpoint, trade_date
"""


def record_slices(
    con: duckdb.DuckDBPyConnection,
    slices: list[tuple[str, str, date]],
    *,
    unique_keys: bool = False,
) -> None:
    """Recompute the figures of each (ticker, endpoint, trade_date) from its rows.

    Call inside the writer's transaction, after its inserts; a slice without rows has no figures.
    `unique_keys`: the writer guarantees no repeated (timestamp, strike) (the key duplicates are
    0 and the rows are not grouped by key).
    """
    figures = _UNIQUE_FIGURES if unique_keys else _FIGURES
    for ticker, endpoint, trade_date in slices:
        params = {"ticker": ticker, "endpoint": endpoint, "trade_date": trade_date}
        con.execute(f"DELETE FROM gex_partition_figures WHERE {SLICE_SQL}", params)
        con.execute("INSERT INTO gex_partition_figures " + figures.format(rows=_ROWS), params)


def add_new_snapshots(con: duckdb.DuckDBPyConnection, new_snapshots: str, time_range: str) -> None:
    """Add to the figures the strike rows at the (ticker, endpoint, trade_date, timestamp) of
    `new_snapshots` (a query): the snapshots a live batch inserted, in its transaction.

    `time_range` (a query of one row: first, last epoch ms) bounds those timestamps; as constants
    they let the scan skip the row groups outside the batch's time range.
    """
    first, last = con.execute(time_range).fetchone() or (None, None)
    if first is None:
        return
    rows = (
        f"gex_strikes SEMI JOIN ({new_snapshots}) USING (ticker, endpoint, trade_date, timestamp)"
        " WHERE timestamp BETWEEN $first AND $last"
    )
    con.execute(
        f"""
        INSERT INTO gex_partition_figures {_FIGURES.format(rows=rows)}
        ON CONFLICT (ticker, endpoint, trade_date) DO UPDATE SET
            strike_rows = strike_rows + excluded.strike_rows,
            strike_key_duplicates = strike_key_duplicates + excluded.strike_key_duplicates,
            strike_hash = strike_hash + excluded.strike_hash
        """,
        {"first": first, "last": last},
    )


def recompute(
    con: duckdb.DuckDBPyConnection, ticker: str, endpoint: str, trade_date: date
) -> StrikeFigures:
    """The figures of a partition computed from its rows now (a full scan)."""
    params = {"ticker": ticker, "endpoint": endpoint, "trade_date": trade_date}
    row = con.execute(_FIGURES.format(rows=_ROWS), params).fetchone()
    return StrikeFigures(0, 0, 0) if row is None else StrikeFigures(*row[3:])


@dataclass(frozen=True)
class StrikeState:
    """A partition's strike rows now: usable figures (None if stale or missing) and the first
    and last timestamp (None without rows)."""

    figures: StrikeFigures | None
    first_timestamp: int | None
    last_timestamp: int | None


def strike_state(
    con: duckdb.DuckDBPyConnection, ticker: str, endpoint: str, trade_date: date
) -> StrikeState:
    """The partition's recorded figures if its row count still matches them, and the span of its
    strike timestamps, in one read."""
    params = {"ticker": ticker, "endpoint": endpoint, "trade_date": trade_date}
    row = con.execute(
        f"""
        SELECT s.n, s.first, s.last, f.strike_rows, f.strike_key_duplicates, f.strike_hash
        FROM (SELECT count(*) AS n, min(timestamp) AS first, max(timestamp) AS last
              FROM gex_strikes WHERE {SLICE_SQL}) s
        LEFT JOIN gex_partition_figures f
          ON f.ticker = $ticker AND f.endpoint = $endpoint AND f.trade_date = $trade_date
        """,
        params,
    ).fetchone()
    assert row is not None
    rows, first, last, recorded, duplicates, content_hash = row
    if recorded is None:
        figures = StrikeFigures(0, 0, 0) if rows == 0 else None
    else:
        figures = StrikeFigures(rows, duplicates, content_hash) if rows == recorded else None
    return StrikeState(figures, first, last)


def current_figures(
    con: duckdb.DuckDBPyConnection, ticker: str, endpoint: str, trade_date: date
) -> StrikeFigures | None:
    """The recorded figures of a partition if its row count still matches them, else None."""
    return strike_state(con, ticker, endpoint, trade_date).figures
