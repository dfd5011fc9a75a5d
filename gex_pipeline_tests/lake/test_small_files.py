"""Which partitions the live roll-up finds small files in (`small_files`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.lake.tables import Lake, Partition, small_files
from gex_pipeline.lib.lake.writes import append, lake_rows

DAY = date(2025, 11, 14)


def _append(lake: Lake, ticker: str, day: date, rows: int) -> None:
    """One commit (one file) of `rows` strike rows of feed `ticker`.gex_zero on `day`."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        migrate(con)
        con.execute(
            "INSERT INTO gex_strikes (ticker, endpoint, timestamp, trade_date, strike, gamma,"
            " oi_gamma, priors) SELECT $ticker, 'gex_zero', 1763130600000 + i, $day, random(),"
            " random(), random(), [random(), random()] FROM range($rows) t(i)",
            {"ticker": ticker, "day": day, "rows": rows},
        )
        partition = Partition(day, f"{ticker}.gex_zero")
        rows_out = lake_rows(con, "gex_strikes", "SELECT * FROM gex_strikes")
        append(lake, "gex_strikes", rows_out, writer="test", partitions=[partition])


def test_small_files_counts_the_small_files_of_each_partition_only(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    for _ in range(3):
        _append(lake, "SPX", DAY, 1)
    _append(lake, "NDX", DAY, 1)
    _append(lake, "SPX", date(2025, 11, 13), 1)
    _append(lake, "RUT", DAY, 50_000)  # one file far above the threshold
    table = lake.open("gex_strikes")
    assert table is not None

    found = small_files(table, 64 * 1024)

    assert found == {
        Partition(DAY, "SPX.gex_zero"): 3,
        Partition(DAY, "NDX.gex_zero"): 1,
        Partition(date(2025, 11, 13), "SPX.gex_zero"): 1,
    }
    assert small_files(table, 1) == {}
