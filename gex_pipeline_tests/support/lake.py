"""Reach the lake from tests: settle live rows into it, read it, damage it on purpose."""

from __future__ import annotations

from pathlib import Path

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.seal import hot_partitions, seal
from gex_pipeline.lib.lake.tables import Lake


def lake_of(data_dir: Path) -> Lake:
    """The lake of a data directory."""
    return Lake(str((data_dir / "lake").resolve()))


def settle(data_dir: Path) -> None:
    """Seal every partition gex_data.db holds into the lake (the live loader does it once a day
    is over, batch jobs when they need the partition)."""
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        for partition in hot_partitions(con):
            seal(con, lake_of(data_dir), partition)


def lake_rows(data_dir: Path, sql: str) -> list[tuple]:
    """The result of `sql` over the lake's tables (views named like the tables)."""
    with connect_lake(lake_of(data_dir)) as con:
        return con.execute(sql).fetchall()


def lake_delete(data_dir: Path, table: str, predicate: str) -> None:
    """Delete rows from a lake table behind the pipeline's back (a Delta SQL predicate)."""
    found = lake_of(data_dir).open(table)
    assert found is not None, f"no lake table {table}"
    found.delete(predicate)


def lake_update_one_row(data_dir: Path, table: str, column: str) -> None:
    """Add 1 to `column` of one row of a lake table behind the pipeline's back (same row count)."""
    found = lake_of(data_dir).open(table)
    assert found is not None, f"no lake table {table}"
    timestamp, strike = lake_rows(data_dir, f"SELECT timestamp, strike FROM {table} LIMIT 1")[0]
    found.update(
        updates={column: f"{column} + 1"},
        predicate=f"timestamp = {timestamp} AND strike = {strike}",
    )
