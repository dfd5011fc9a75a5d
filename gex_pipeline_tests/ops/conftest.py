"""A data directory populated the way the running pipeline fills it: a history import (raw file
kept), live `/gex` and `/uw` segments loaded and moved to `processed/`, one Parquet export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.lib.history.sources import raw_dir
from gex_pipeline.lib.staging.reader import move_to_processed
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree, UwStagingTree

HISTORY_DAY = date(2025, 11, 13)
LIVE_DAY = date(2025, 11, 14)
# The data tables and their content compared by the drills (bookkeeping tables carry load times).
DATA_TABLES: tuple[str, ...] = (
    "gex_snapshots",
    "gex_strikes",
    "gex_events",
    "gex_conflicts",
    "universal_webhooks",
    "option_trades_events",
    "market_agg_state",
    "webhook_conflicts",
)
VOLATILE = {"ingested_at", "detected_at"}


@dataclass(frozen=True)
class Populated:
    """What the fixture stored."""

    settings: Settings
    raw_file: Path


def table_rows(db_path: Path, table: str) -> list[tuple]:
    """Every row of `table` without its load-time columns, sorted."""
    with connect(db_path, read_only=True) as con:
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
            if r[0] not in VOLATILE
        ]
        return con.sql(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()


def all_rows(db_path: Path) -> dict[str, list[tuple]]:
    """`table_rows` of every data table."""
    return {table: table_rows(db_path, table) for table in DATA_TABLES}


@pytest.fixture
def populated(settings: Settings, tmp_path: Path) -> Populated:
    """Fill `gex_data.db` through the pipeline's own loaders (see the module docstring)."""
    gex = GexStagingTree(settings.paths.staging_dir)
    uw = UwStagingTree(settings.paths.staging_dir)
    folder = raw_dir(settings.paths.source_dir, "NQ_NDX", "gex_zero")
    day = make_day_file(folder, HISTORY_DAY, "NQ_NDX", "gex_zero", seed=3, snapshots=40, strikes=15)
    segments = [
        gex.seal([gex.record("SPX", "gex_zero", GEX_BASE_MS + i * 1000) for i in range(5)]),
        gex.seal([gex.record("SPX", "gex_one", GEX_BASE_MS + i * 1000) for i in range(3)]),
        # a repeat with different content: one conflict row
        gex.seal([gex.record("SPX", "gex_zero", GEX_BASE_MS, spot=1.0)]),
    ]
    uw_segments = [uw.seal(uw.records(uw.messages(40, seed=s))) for s in (1, 2)]
    with connect(settings.paths.duckdb_path) as con:
        migrate(con)
        import_day_file(con, day.path, ticker="NQ_NDX", endpoint="gex_zero",
                        trade_date=HISTORY_DAY, backups_dir=settings.paths.backups_dir)  # fmt: skip
        load_segments(con, segments)
        load_uw_segments(con, uw_segments)
        export_partition(con, settings.paths.parquet_dir, "SPX", "gex_zero", LIVE_DAY)
    move_to_processed(gex.dirs, [s.name for s in segments])
    move_to_processed(uw.dirs, [s.name for s in uw_segments])
    return Populated(settings, day.path)
