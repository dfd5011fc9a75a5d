"""Export one date x feed partition of `gex_strikes` to Parquet, atomically.

Layout: `<parquet_root>/<TICKER>/<endpoint>/<YYYYMMDD>.strikes.parquet`, zstd, rows sorted by
(timestamp, strike), and beside it `<YYYYMMDD>.snapshots.parquet` (one row per snapshot: spot,
levels, sums; what `gex-pipeline validate` checks outside the database). The snapshots file is
replaced first, then the strikes file. The file is written to a temp name in the same directory, fsynced and renamed
over the old one, so readers see the old file or the new one, never a partial file. polars writes
the nested `priors` column faster than DuckDB's COPY (see benchmarks/pipeline.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.gex.feed_day import SLICE_SQL, FeedDay
from gex_pipeline.lib.payloads.gex import SCALAR_FIELDS

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from gex_pipeline.lib.lake.store import TableStore

EXPORT_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "ticker",
    "endpoint",
    "strike",
    "gamma",
    "oi_gamma",
    "priors",
)
SNAPSHOT_EXPORT_COLUMNS: tuple[str, ...] = (
    "ticker",
    "endpoint",
    "timestamp",
    "trade_date",
    *SCALAR_FIELDS,
    "strike_count",
    "source",
)
PARQUET_COMPRESSION = "zstd"


class EmptyPartition(ValueError):
    """DuckDB holds no strike rows for the partition; nothing was written."""


@dataclass(frozen=True)
class ExportResult:
    """Where a partition was written and how many rows it holds."""

    path: Path
    rows: int


def parquet_path(parquet_root: Path, ticker: str, endpoint: str, trade_date: date) -> Path:
    """Path of the Parquet file of one feed-day."""
    feed_key(ticker, endpoint)
    return parquet_root / ticker / endpoint / f"{trade_date:%Y%m%d}.strikes.parquet"


def snapshots_path(parquet_root: Path, ticker: str, endpoint: str, trade_date: date) -> Path:
    """Path of the snapshots Parquet file of one feed-day (beside its strikes file)."""
    strikes = parquet_path(parquet_root, ticker, endpoint, trade_date)
    return strikes.with_name(f"{trade_date:%Y%m%d}.snapshots.parquet")


def partition_query(
    con: duckdb.DuckDBPyConnection, ticker: str, endpoint: str, trade_date: date
) -> duckdb.DuckDBPyRelation:
    """DuckDB relation of one partition's strike rows in export order and columns."""
    return con.sql(
        f"SELECT {', '.join(EXPORT_COLUMNS)} FROM gex_strikes"
        f" WHERE {SLICE_SQL} ORDER BY timestamp, strike",
        params=FeedDay(trade_date, ticker, endpoint).params(),
    )


def _fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export_partition(
    con: duckdb.DuckDBPyConnection,
    parquet_root: Path,
    ticker: str,
    endpoint: str,
    trade_date: date,
) -> ExportResult:
    """Write the feed-day's strike rows from DuckDB to its Parquet file (tmp + fsync + rename).

    Raises `EmptyPartition` (a ValueError) naming the partition when DuckDB holds no rows for it;
    an existing file is then left untouched. Beside the strikes file, its manifest records the
    rows' figures and the file's identity (`gex_pipeline.lib.gex.parquet_manifest`); the old
    manifest is removed before the file is replaced, so a crash in between leaves none.
    """
    from gex_pipeline.lib.gex.parquet_manifest import frame_state, manifest_path, write_manifest

    target = parquet_path(parquet_root, ticker, endpoint, trade_date)
    frame = partition_query(con, ticker, endpoint, trade_date).pl()
    if frame.height == 0:
        raise EmptyPartition(
            f"no gex_strikes rows for ticker={ticker} endpoint={endpoint} trade_date={trade_date}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshots = con.sql(
        f"SELECT {', '.join(SNAPSHOT_EXPORT_COLUMNS)} FROM gex_snapshots"
        f" WHERE {SLICE_SQL} ORDER BY timestamp",
        params=FeedDay(trade_date, ticker, endpoint).params(),
    ).pl()
    _write_atomic(snapshots, snapshots_path(parquet_root, ticker, endpoint, trade_date))
    manifest_path(target).unlink(missing_ok=True)
    _write_atomic(frame, target)
    write_manifest(target, frame_state(frame))
    _fsync_path(target.parent)
    return ExportResult(path=target, rows=frame.height)


def export_lake_partition(
    store: TableStore, con: duckdb.DuckDBPyConnection, parquet_root: Path, day: FeedDay
) -> ExportResult:
    """Export a feed-day from the lake (`con`: a reader of its partition, `store.reader`).

    A partition stored as one file (what imports, rebuilds and seals write: the export's columns,
    sorted) is exported as a byte copy of that file, with the figures recorded when it was
    written; any other partition is read and written like `export_partition`.
    """
    from gex_pipeline.lib.gex.parquet_manifest import manifest_path, write_manifest
    from gex_pipeline.lib.gex.partition_figures import StrikeFigures, StrikeState
    from gex_pipeline.lib.lake.remote import copy_file
    from gex_pipeline.lib.lake.tables import partition_files

    ticker, endpoint, trade_date = day.ticker, day.endpoint, day.trade_date
    table = store.tables.current("gex_strikes")  # the version `con`'s views read
    files = partition_files(table, day.partition) if table is not None else []
    if len(files) != 1:
        return export_partition(con, parquet_root, ticker, endpoint, trade_date)
    file = files[0]
    rows = int(str(file["num_records"]))
    figures = con.execute(
        "SELECT strike_rows, strike_key_duplicates, strike_hash FROM gex_partition_figures"
    ).fetchall()
    if not figures or int(figures[0][0]) != rows:
        return export_partition(con, parquet_root, ticker, endpoint, trade_date)
    target = parquet_path(parquet_root, ticker, endpoint, trade_date)
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshots = con.sql(
        f"SELECT {', '.join(SNAPSHOT_EXPORT_COLUMNS)} FROM gex_snapshots ORDER BY timestamp"
    ).pl()
    _write_atomic(snapshots, snapshots_path(parquet_root, ticker, endpoint, trade_date))
    manifest_path(target).unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    assert table is not None  # it has the partition's file
    try:
        with tmp.open("wb") as out:  # a shared lake's file is fetched from the object store
            size = int(str(file["size_bytes"]))
            copies = store.tables.copies  # the reader's local copy of a remote file
            options = store.lake.options()
            copy_file(table, str(file["path"]), out, options=options, size=size, copies=copies)
        _fsync_path(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    span = (file.get("min.timestamp"), file.get("max.timestamp"))
    state = StrikeFigures(rows, int(figures[0][1]), int(figures[0][2]))
    write_manifest(
        target, StrikeState(state, *(int(str(t)) if t is not None else None for t in span))
    )
    _fsync_path(target.parent)
    return ExportResult(path=target, rows=rows)


def _write_atomic(frame: pl.DataFrame, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        frame.write_parquet(tmp, compression=PARQUET_COMPRESSION, statistics=True)
        _fsync_path(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
