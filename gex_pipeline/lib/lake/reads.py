"""Read lake tables with DuckDB: one partition for the pipeline's jobs, everything for readers.

DuckDB scans the Arrow datasets of the Delta tables directly (no extension): filters on
`trade_date`, `feed`, `ticker`, `timestamp` are pushed down to the partitions and to the Parquet
files' statistics. A dataset is a snapshot of the table at one version: a reader never takes a
lock and never makes a writer wait; it sees newer commits once it registers the tables again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.tables import (
    GEX_TABLES,
    SPECS,
    Lake,
    Partition,
    TableCache,
    duckdb_columns,
    lake_schema,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    from gex_pipeline.lib.lake.remote import LocalCopies

LAKE_DIR_NAME = "lake"
_names = itertools.count()


def dataset(
    lake: Lake, name: str, partitions: Iterable[Partition] | None = None, version: int | None = None
) -> ds.Dataset:
    """The rows of table `name` (only `partitions` when given) as an Arrow dataset; an empty one
    when the table was never written."""
    return table_dataset(lake.open(name, version), name, partitions)


def table_dataset(
    table: DeltaTable | None,
    name: str,
    partitions: Iterable[Partition] | None = None,
    ranges: Mapping[str, tuple[object, object]] | None = None,
) -> ds.Dataset:
    """The dataset of an opened table (None: never written), restricted to the files of
    `partitions` whose statistics overlap `ranges` (see `scan`), chosen in one pass over the
    table's files."""
    import pyarrow.dataset as pads

    if table is None:
        return pads.dataset(lake_schema(name).empty_table())
    bounds = [
        (column, op, value)
        for column, (lo, hi) in (ranges or {}).items()
        for op, value in ((">=", lo), ("<=", hi))
        if value is not None
    ]
    if partitions is None:
        return table.to_pyarrow_dataset(file_pruning_predicate=bounds or None)
    parts = sorted({p.for_table(SPECS[name]) for p in partitions})
    if not parts:
        return pads.dataset(lake_schema(name).empty_table())
    return table.to_pyarrow_dataset(file_pruning_predicate=[p.filters() + bounds for p in parts])


def _files(
    table: DeltaTable,
    name: str,
    partitions: Iterable[Partition] | None,
    ranges: Mapping[str, tuple[object, object]] | None = None,
) -> list[tuple[str, int]]:
    """(path relative to the table, size) of the table's live files in `partitions` whose
    statistics overlap every `column: (lo, hi)` range (a bound may be None): one pass over the
    log's add actions."""
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))
    keep = pa.array([True] * actions.num_rows, pa.bool_())
    if partitions is not None:
        spec = SPECS[name]
        wanted = {tuple(v for _, _, v in p.for_table(spec).filters()) for p in partitions}
        columns = [f"partition.{c}" for c in spec.partition_by]
        keys = zip(*(pc.cast(actions[c], pa.string()).to_pylist() for c in columns), strict=True)
        keep = pc.and_(keep, pa.array([k in wanted for k in keys], pa.bool_()))
    for column, (lo, hi) in (ranges or {}).items():
        low, high = f"min.{column}", f"max.{column}"
        if low not in actions.column_names:
            continue
        if lo is not None:
            keep = pc.and_(keep, pc.fill_null(pc.greater_equal(actions[high], lo), True))
        if hi is not None:
            keep = pc.and_(keep, pc.fill_null(pc.less_equal(actions[low], hi), True))
    chosen = actions.filter(keep) if partitions is not None or ranges else actions
    paths, sizes = chosen.column("path").to_pylist(), chosen.column("size_bytes").to_pylist()
    return list(zip(paths, sizes, strict=True))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scan(
    con: duckdb.DuckDBPyConnection,
    table: DeltaTable | None,
    name: str,
    partitions: Iterable[Partition] | None = None,
    ranges: Mapping[str, tuple[object, object]] | None = None,
    copies: LocalCopies | None = None,
) -> str:
    """A DuckDB table expression over the rows of a lake table at the version `table` was
    opened (only `partitions` when given; only the files whose statistics overlap `ranges`, a
    superset of the rows in those ranges), with its partition columns.

    Files of a local lake are read by DuckDB's own Parquet reader (statistics, projection and
    filters pushed into the files, footers cached), and so are those of a remote lake when
    `copies` is given (each file fetched there once, in one request); others through the Arrow
    dataset.
    """
    source = f"__lake_{name}_{next(_names)}"
    remote = table is not None and "://" in table.table_uri.removeprefix("file://")
    if table is not None and (not remote or copies is not None):
        chosen = _files(table, name, partitions, ranges)
        if copies is not None and remote:
            files = [str(copies.path(table, path, size)) for path, size in chosen]
        else:
            root = table.table_uri.removeprefix("file://").rstrip("/")
            files = [f"{root}/{path}" for path, _ in chosen]
        if files:
            listed = ", ".join(_literal(f) for f in files)
            types = "{'trade_date': 'DATE'" + (
                ", 'feed': 'VARCHAR'}" if SPECS[name].by_feed else "}"
            )
            return (
                f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true,"
                f" hive_types = {types})"
            )
        con.register(source, lake_schema(name).empty_table())
        return source
    con.register(source, table_dataset(table, name, partitions, ranges))
    return source


def register(
    con: duckdb.DuckDBPyConnection,
    view: str,
    table: DeltaTable | None,
    name: str,
    partitions: Iterable[Partition] | None = None,
    *,
    with_feed: bool = True,
    ranges: Mapping[str, tuple[object, object]] | None = None,
    copies: LocalCopies | None = None,
) -> None:
    """Create the temp view `view` over lake table `name` (see `scan`): its DuckDB columns, plus
    `feed` when asked."""
    columns = ", ".join(f'"{c}"' for c in duckdb_columns(name))
    if with_feed and SPECS[name].by_feed:
        columns += ", feed"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {columns}"
        f" FROM {scan(con, table, name, partitions, ranges, copies)}"
    )


def attach_partition(
    con: duckdb.DuckDBPyConnection,
    tables: TableCache,
    partition: Partition,
    names: Iterable[str] | None = None,
    *,
    latest: bool = True,
    copies: LocalCopies | None = None,
) -> None:
    """Views named like the tables over one partition of lake tables `names` (else of each
    table that can hold it: the GEX tables for a feed-day, every table for a date), read-only, at
    their latest versions (`tables`: a table opened costs a round trip per commit since its
    checkpoint on object storage, one brought up to date only those since it was last used);
    not `latest`: at the versions `tables` last saw (`TableCache.current`); `copies`: a remote
    lake's files read from local copies (`scan`)."""
    if names is None:
        names = GEX_TABLES if partition.feed is not None else tuple(SPECS)
    for name in names:
        table = tables.get(name) if latest else tables.current(name)
        register(con, name, table, name, [partition], with_feed=False, copies=copies)


def lake_root(data_dir: Path) -> Lake:
    """The local lake under a data directory (`$GEX_DATA_DIR/lake`)."""
    return Lake(str(data_dir.resolve() / LAKE_DIR_NAME))


def connect_lake(
    lake: Lake | TableCache | str | Path = Path("data"), names: Iterable[str] = tuple(SPECS)
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per lake table over all its rows (closed
    sessions and today's, mirrored by the live loader within seconds).

    `lake` is a `Lake`, a `TableCache` of one (see `refresh`), or a data directory
    (`$GEX_DATA_DIR`, its `lake/` is used). Call `refresh(con, lake)` (or connect again) to see
    rows committed after the connection was made.
    """
    import duckdb

    con = duckdb.connect()
    refresh(con, lake, names)
    return con


def refresh(
    con: duckdb.DuckDBPyConnection,
    lake: Lake | TableCache | str | Path = Path("data"),
    names: Iterable[str] = tuple(SPECS),
) -> None:
    """Point the views of `con` at the latest version of every lake table. A `TableCache` keeps
    the tables open between refreshes: each then reads only the commits since the last one (a
    reader polling object storage), where a `Lake` opens every table again."""
    if isinstance(lake, TableCache):
        tables = lake
    else:
        tables = TableCache(lake if isinstance(lake, Lake) else lake_root(Path(lake)))
    con.execute("SET parquet_metadata_cache = true")
    for name in names:
        register(con, name, tables.get(name), name)
