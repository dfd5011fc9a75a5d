"""Load-time figures of `gex_strikes` equal a full recomputation after every kind of write:
history imports and re-imports, restores, live batches (duplicates, conflicts, repeated strikes,
rows left at a timestamp before its snapshot), staging rebuilds and the schema migration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.migrations import MIGRATIONS
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import FeedDay, partition_checks
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.staging_rebuild import rebuild_from_staging
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.lib.history.day_replace import restore_slice
from gex_pipeline_tests.support.figures import recomputed_figures, recorded_figures
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "gex.db") as connection:
        migrate(connection)
        yield connection


def _assert_figures_hold(con: duckdb.DuckDBPyConnection) -> None:
    recorded = recorded_figures(con)
    assert recorded, "no figures recorded"
    assert recorded == recomputed_figures(con)


def _import(con, tmp_path: Path, name: str, defects: str = "", strikes: int = 4):
    made = make_day_file(
        tmp_path / name, DAY, "SPX", "gex_zero", snapshots=300, strikes=strikes, defects=defects
    )
    return import_day_file(
        con, made.path, ticker="SPX", endpoint="gex_zero", trade_date=DAY,
        backups_dir=tmp_path / "backups", force=True,
    )  # fmt: skip


def test_imports_reimports_and_restores_keep_the_figures(con, tmp_path):
    first = _import(con, tmp_path, "first", "duplicate,gap")
    _assert_figures_hold(con)
    second = _import(con, tmp_path, "second", strikes=6)
    _assert_figures_hold(con)
    assert recorded_figures(con)[0][3] == 300 * 6
    assert second.backup is not None
    restore_slice(con, second.backup, FeedDay(DAY, "SPX", "gex_zero"))
    _assert_figures_hold(con)
    assert recorded_figures(con)[0][3] == first.strike_rows


def test_live_batches_add_up_to_a_recomputation(con, gex_staging: GexStagingTree):
    tree = gex_staging
    repeated_strike = [[6700.0, 1.0, 2.0, None], [6700.0, 3.0, 4.0, None], [6710.0, 1.0, 1.0, None]]
    first = [tree.record(timestamp=GEX_BASE_MS + i * 1000) for i in range(5)]
    load_segments(con, [tree.seal(first)])
    _assert_figures_hold(con)
    load_segments(
        con,
        [
            tree.seal(
                [
                    first[0],  # an exact duplicate
                    tree.record(timestamp=GEX_BASE_MS + 1000, spot=1.0),  # a conflict
                    tree.record(timestamp=GEX_BASE_MS + 9000, strikes=repeated_strike),
                    tree.record("NDX", timestamp=GEX_BASE_MS),
                    tree.record(timestamp=GEX_BASE_MS + 86_400_000),  # the next day
                ]
            )
        ],
    )
    _assert_figures_hold(con)
    assert len(recorded_figures(con)) == 3


def test_strike_rows_left_before_their_snapshot_arrives_are_a_duplicate_the_checks_find(
    con, gex_staging: GexStagingTree, tmp_path: Path
):
    tree = gex_staging
    load_segments(con, [tree.seal([tree.record(timestamp=GEX_BASE_MS)])])
    later = GEX_BASE_MS + 5000
    con.execute(
        "INSERT INTO gex_strikes VALUES ('SPX', 'gex_zero', $ts, $d, 6700.0, 1, 1, NULL)",
        {"ts": later, "d": DAY},
    )
    load_segments(con, [tree.seal([tree.record(timestamp=later)])])
    results = partition_checks(
        con, FeedDay(DAY, "SPX", "gex_zero"), tmp_path / "parquet", names=["duplicate_rows"]
    )
    (duplicates,) = results
    assert not duplicates.passed
    assert duplicates.examples["duplicate_strike"] == (later,)


def test_a_staging_rebuild_keeps_the_figures(con, gex_staging: GexStagingTree, tmp_path):
    _import(con, tmp_path, "day")
    tree = gex_staging
    segments = [tree.seal([tree.record(timestamp=GEX_BASE_MS + i * 1000) for i in range(4)])]
    rebuild_from_staging(
        con, segments, ticker="SPX", endpoint="gex_zero", trade_date=DAY,
        backups_dir=tmp_path / "backups", work_dir=tmp_path / "work", force=True,
    )  # fmt: skip
    _assert_figures_hold(con)
    assert recorded_figures(con)[0][3] == 4 * 3


def test_the_migration_records_the_figures_of_rows_already_stored(tmp_path):
    with connect(tmp_path / "old.db") as con:
        migrate(con, MIGRATIONS[:3])
        con.execute(
            "INSERT INTO gex_strikes SELECT 'SPX', 'gex_zero', $ts + i % 7, $d, i % 5, i, 1, [1.0]"
            " FROM range(40) t(i)",
            {"ts": GEX_BASE_MS, "d": DAY},
        )
        migrate(con)
        _assert_figures_hold(con)
        assert recorded_figures(con)[0][3:5] == (40, 5)
