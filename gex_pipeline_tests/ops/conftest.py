"""A data directory populated the way the running pipeline fills it: a history import into the
lake (raw file kept), live `/gex` and `/uw` segments loaded, moved to `processed/` and sealed into
the lake, one Parquet export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.partition_import import import_partition
from gex_pipeline.lib.history.sources import raw_dir
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.seal import hot_partitions, seal
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.lib.lake.tables import Lake, Partition
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
# Load times, and where a conflict was staged (a rebuild names the feed-day's filtered records).
VOLATILE = {"ingested_at", "detected_at", "segment", "line"}


@dataclass(frozen=True)
class Populated:
    """What the fixture stored."""

    settings: Settings
    raw_file: Path

    @property
    def store(self) -> TableStore:
        return TableStore.from_paths(self.settings.paths)

    @property
    def lake(self) -> Lake:
        return self.store.lake


def table_rows(lake: Lake, table: str) -> list[tuple]:
    """Every row of lake table `table` without its load-time columns, sorted."""
    from gex_pipeline.lib.lake.tables import duckdb_columns

    with connect_lake(lake, [table]) as con:
        columns = [c for c in duckdb_columns(table) if c not in VOLATILE]
        return con.sql(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()


def all_rows(lake: Lake) -> dict[str, list[tuple]]:
    """`table_rows` of every data table."""
    return {table: table_rows(lake, table) for table in DATA_TABLES}


def seal_all(db_path: Path, lake: Lake) -> None:
    """Seal every partition `gex_data.db` holds into the lake."""
    with connect(db_path) as con:
        for partition in hot_partitions(con):
            seal(con, lake, partition)


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
    store = TableStore.from_paths(settings.paths)
    import_partition(
        FeedDay(HISTORY_DAY, "NQ_NDX", "gex_zero"),
        store=store,
        paths=settings.paths,
        history=settings.history,
    )
    with connect(settings.paths.duckdb_path) as con:
        migrate(con)
        load_segments(con, segments)
        load_uw_segments(con, uw_segments)
    move_to_processed(gex.dirs, [s.name for s in segments])
    move_to_processed(uw.dirs, [s.name for s in uw_segments])
    seal_all(settings.paths.duckdb_path, store.lake)
    with store.reader(Partition(LIVE_DAY, "SPX.gex_zero")) as con:
        export_partition(con, settings.paths.parquet_dir, "SPX", "gex_zero", LIVE_DAY)
    return Populated(settings, day.path)
