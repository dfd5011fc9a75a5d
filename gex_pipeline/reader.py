"""Read everything the pipeline stores, from notebooks and backtests, without locking anything.

    from gex_pipeline.reader import connect
    con = connect("data")   # $GEX_DATA_DIR
    con.sql("SELECT feed, count(*) FROM gex_strikes GROUP BY feed").pl()

Every table is a view over its lake table (closed sessions, and today's rows the live loader
mirrors within `GEX_LAKE_FLUSH_SECONDS`); `refresh(con, "data")` points the views at rows
committed since. A reader never makes the pipeline wait, however long it keeps the connection.
polars reads the same tables with `polars.scan_delta(table_path("data", "gex_strikes"))`.

A lake shared on object storage (`GEX_LAKE_URI`) is read the same way from any machine, without
touching any host's files: `connect(shared_lake())`, and polars with the lake's storage options.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import LAKE_DIR_NAME, connect_lake, refresh
from gex_pipeline.lib.lake.tables import Lake

if TYPE_CHECKING:
    import duckdb

__all__ = ["Lake", "connect", "refresh", "shared_lake", "table_path"]


def connect(data_dir: str | Path | Lake = "data") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per table of the lake under `data_dir` (or of
    the `Lake` given, e.g. `shared_lake()`)."""
    return connect_lake(data_dir if isinstance(data_dir, Lake) else Path(data_dir))


def shared_lake() -> Lake:
    """The lake the environment names (`GEX_LAKE_URI`, `GEX_LAKE_S3_*`; else `$GEX_DATA_DIR/lake`):
    `lake.uri(table)` and `lake.options()` are what `polars.scan_delta` takes."""
    from gex_pipeline.lib.lake.remote import settings_lake
    from gex_pipeline.settings import Settings

    return settings_lake(Settings.from_env())


def table_path(data_dir: str | Path, table: str) -> str:
    """The path of one lake table (for `polars.scan_delta` or `deltalake.DeltaTable`)."""
    return str(Path(data_dir) / LAKE_DIR_NAME / table)
