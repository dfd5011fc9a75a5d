"""Read lake tables with DuckDB: one partition for the pipeline's jobs, everything for readers.

DuckDB scans the Arrow datasets of the Delta tables directly (no extension): filters on
`trade_date`, `feed`, `ticker`, `timestamp` are pushed down to the partitions and to the Parquet
files' statistics. A dataset is a snapshot of the table at one version: a reader never takes a
lock and never makes a writer wait; it sees newer commits once it registers the tables again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.tables import SPECS, Lake, Partition, duckdb_columns, lake_schema

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

LAKE_DIR_NAME = "lake"


def dataset(
    lake: Lake, name: str, partitions: Iterable[Partition] | None = None, version: int | None = None
) -> ds.Dataset:
    """The rows of table `name` (only `partitions` when given) as an Arrow dataset; an empty one
    when the table was never written."""
    return table_dataset(lake.open(name, version), name, partitions)


def table_dataset(
    table: DeltaTable | None, name: str, partitions: Iterable[Partition] | None = None
) -> ds.Dataset:
    """The dataset of an opened table (None: never written), restricted to `partitions`."""
    import pyarrow.dataset as pads

    if table is None:
        return pads.dataset(lake_schema(name).empty_table())
    if partitions is None:
        return table.to_pyarrow_dataset()
    parts = [p.for_table(SPECS[name]) for p in partitions]
    pieces = [
        table.to_pyarrow_dataset(file_pruning_predicate=p.filters()) for p in sorted(set(parts))
    ]
    if len(pieces) == 1:
        return pieces[0]
    return pads.dataset(pieces) if pieces else pads.dataset(lake_schema(name).empty_table())


def register(
    con: duckdb.DuckDBPyConnection, name: str, data: ds.Dataset, *, with_feed: bool = True
) -> None:
    """Expose `data` in `con` as the view `name` (DuckDB columns, plus `feed` when asked)."""
    source = f"__lake_{name}"
    con.register(source, data)
    columns = ", ".join(f'"{c}"' for c in duckdb_columns(name))
    if with_feed and SPECS[name].by_feed:
        columns += ", feed"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {columns} FROM {source}")


def attach_partition(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    partition: Partition,
    names: Iterable[str] = tuple(SPECS),
) -> None:
    """Views named like the tables over one partition of each lake table (read-only)."""
    for name in names:
        register(con, name, dataset(lake, name, [partition]), with_feed=False)


def lake_root(data_dir: Path) -> Lake:
    """The local lake under a data directory (`$GEX_DATA_DIR/lake`)."""
    return Lake(str(data_dir.resolve() / LAKE_DIR_NAME))


def connect_lake(
    lake: Lake | str | Path = Path("data"), names: Iterable[str] = tuple(SPECS)
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per lake table over all its rows (closed
    sessions and today's, mirrored by the live loader within seconds).

    `lake` is a `Lake`, or a data directory (`$GEX_DATA_DIR`, its `lake/` is used). Call
    `refresh(con, lake)` (or connect again) to see rows committed after the connection was made.
    """
    import duckdb

    con = duckdb.connect()
    refresh(con, lake, names)
    return con


def refresh(
    con: duckdb.DuckDBPyConnection,
    lake: Lake | str | Path = Path("data"),
    names: Iterable[str] = tuple(SPECS),
) -> None:
    """Point the views of `con` at the latest version of every lake table."""
    resolved = lake if isinstance(lake, Lake) else lake_root(Path(lake))
    for name in names:
        register(con, name, dataset(resolved, name))
