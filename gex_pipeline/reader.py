"""Read everything the pipeline stores, from notebooks and backtests, without locking anything.

    from gex_pipeline.reader import connect
    con = connect("data")   # $GEX_DATA_DIR
    con.sql("SELECT feed, count(*) FROM gex_strikes GROUP BY feed").pl()

Every table is a view over its lake table (closed sessions, and today's rows the live loader
mirrors within `GEX_LAKE_FLUSH_SECONDS`); `refresh(con, "data")` points the views at rows
committed since. A reader never makes the pipeline wait, however long it keeps the connection.
polars reads the same tables with `polars.scan_delta(table_path("data", "gex_strikes"))`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import LAKE_DIR_NAME, connect_lake, refresh

if TYPE_CHECKING:
    import duckdb

__all__ = ["connect", "refresh", "table_path"]


def connect(data_dir: str | Path = "data") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per table of the lake under `data_dir`."""
    return connect_lake(Path(data_dir))


def table_path(data_dir: str | Path, table: str) -> str:
    """The path of one lake table (for `polars.scan_delta` or `deltalake.DeltaTable`)."""
    return str(Path(data_dir) / LAKE_DIR_NAME / table)
