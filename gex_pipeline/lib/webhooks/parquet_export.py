"""Export one trading date of option trades to `<root>/option_trades/<YYYYMMDD>.parquet`, atomically.

The file is written by polars (zstd) to a temp name in the same directory, fsynced and renamed over
the old one, so notebooks read the old file or the new one, never a partial file; rows are sorted
by (executed_at, id). `<root>` is `$GEX_DATA_DIR/parquet/uw`.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.parquet_export import PARQUET_COMPRESSION, ExportResult
from gex_pipeline.lib.staging.durable_fs import fsync_dir

if TYPE_CHECKING:
    import duckdb


def option_trades_path(uw_root: Path, trade_date: date) -> Path:
    """Path of the Parquet file of one trading date's option trades."""
    return uw_root / "option_trades" / f"{trade_date:%Y%m%d}.parquet"


def export_option_trades(
    con: duckdb.DuckDBPyConnection, uw_root: Path, trade_date: date
) -> ExportResult:
    """Write the day's `option_trades_events` rows to their Parquet file (tmp + fsync + rename).

    Raises ValueError naming the date when DuckDB holds no trade for it (an existing file stays).
    """
    target = option_trades_path(uw_root, trade_date)
    frame = con.sql(
        "SELECT * EXCLUDE (ingested_at) FROM option_trades_events WHERE trade_date = $d"
        " ORDER BY executed_at, id",
        params={"d": trade_date},
    ).pl()
    if frame.height == 0:
        raise ValueError(f"no option_trades_events rows for trade_date={trade_date}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        frame.write_parquet(tmp, compression=PARQUET_COMPRESSION, statistics=True)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return ExportResult(path=target, rows=frame.height)
