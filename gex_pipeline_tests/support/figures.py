"""Compare the load-time figures of `gex_partition_figures` with a recomputation from the rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

_RECOMPUTED = """
SELECT ticker, endpoint, trade_date, count(*),
       count(*) - count(DISTINCT (timestamp, strike)),
       sum(hash(timestamp, ticker, endpoint, strike, gamma, oi_gamma, priors)::HUGEINT)
FROM gex_strikes GROUP BY ALL ORDER BY ALL
"""
_RECORDED = """
SELECT ticker, endpoint, trade_date, strike_rows, strike_key_duplicates, strike_hash
FROM gex_partition_figures ORDER BY ALL
"""


def recorded_figures(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every partition's recorded figures, sorted."""
    return con.execute(_RECORDED).fetchall()


def recomputed_figures(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every partition's figures recomputed from `gex_strikes`, sorted (the same columns)."""
    return con.execute(_RECOMPUTED).fetchall()
