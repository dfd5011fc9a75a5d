"""What history imports drop and replace stays inspectable, and the checks report it:
conflicting repeated seconds (WARN), rows of another date (ERROR), live rows that drifted (WARN)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.cli.demo.history_day import DayFile, make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import (
    ERROR,
    WARN,
    FeedDay,
    Thresholds,
    history_dropped_rows,
    history_foreign_rows,
    live_history_drift,
)
from gex_pipeline.lib.history.day_import import import_day_file

DAY = date(2025, 11, 14)
TICKER, ENDPOINT = "SPX", "gex_zero"
FEED_DAY = FeedDay(DAY, TICKER, ENDPOINT)
EVERY = Thresholds(examples=100)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "gex.db") as connection:
        migrate(connection)
        yield connection


def _day(tmp_path: Path, defects: str = "", seed: int = 0) -> DayFile:
    return make_day_file(
        tmp_path / f"source{seed}{defects}",
        DAY,
        TICKER,
        ENDPOINT,
        snapshots=300,
        strikes=5,
        defects=defects,
        seed=seed,
    )


def _import(con: duckdb.DuckDBPyConnection, day: DayFile, tmp_path: Path) -> None:
    import_day_file(
        con,
        day.path,
        ticker=TICKER,
        endpoint=ENDPOINT,
        trade_date=DAY,
        backups_dir=tmp_path / "backups",
        force=True,
    )


def test_conflicting_repeated_second_is_kept_and_reported_as_warn_with_both_spots(con, tmp_path):
    day = _day(tmp_path, "duplicate")
    (duplicate,) = day.manifest.of_kind("duplicate")
    _import(con, day, tmp_path)
    rows = con.execute(
        "SELECT position, timestamp, reason, differs, spot, kept_spot FROM gex_history_rejects"
    ).fetchall()
    assert rows == [
        (
            duplicate.positions[1],
            duplicate.timestamps[0] * 1000,
            "duplicate_timestamp",
            True,
            duplicate.detail["second_spot"],
            duplicate.detail["first_spot"],
        )
    ]
    result = history_dropped_rows(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.counts["conflicting_duplicates"] == 1
    assert result.examples["conflicting_second"] == (duplicate.timestamps[0] * 1000,)
    assert result.details["first_conflict_kept_spot"] == duplicate.detail["first_spot"]


def test_identical_repeated_second_is_kept_but_passes(con, tmp_path):
    day = _day(tmp_path)
    _import(con, day, tmp_path)
    con.execute(
        "INSERT INTO gex_history_rejects SELECT ticker, endpoint, trade_date, 7, timestamp,"
        " 'duplicate_timestamp', false, spot, spot, NULL, now() FROM gex_snapshots LIMIT 1"
    )
    result = history_dropped_rows(con, FEED_DAY, EVERY)
    assert result.passed
    assert result.counts["identical_duplicates"] == 1


def test_rows_of_another_date_fail_the_file_as_error_at_their_timestamps(con, tmp_path):
    day = _day(tmp_path, "wrong_date")
    (wrong,) = day.manifest.of_kind("wrong_date")
    _import(con, day, tmp_path)
    result = history_foreign_rows(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, ERROR)
    assert result.counts["wrong_date"] == len(wrong.timestamps)
    assert result.examples["foreign_row"] == tuple(ts * 1000 for ts in wrong.timestamps)
    stored = con.execute(
        "SELECT count(*) FROM gex_snapshots WHERE timestamp >= $ts",
        {"ts": wrong.timestamps[0] * 1000},
    ).fetchall()
    assert stored == [(0,)]


def test_reimport_of_a_clean_file_replaces_the_slice_rejects(con, tmp_path):
    _import(con, _day(tmp_path, "wrong_date,duplicate"), tmp_path)
    _import(con, _day(tmp_path), tmp_path)
    assert con.execute("SELECT count(*) FROM gex_history_rejects").fetchall() == [(0,)]
    assert history_foreign_rows(con, FEED_DAY).passed
    assert history_dropped_rows(con, FEED_DAY).passed


def _store_live_copy(con: duckdb.DuckDBPyConnection, day: DayFile, tmp_path: Path) -> None:
    """The day as the live loader would have stored it (source 'live')."""
    _import(con, day, tmp_path)
    con.execute("UPDATE gex_snapshots SET source = 'live'")
    con.execute("DELETE FROM gex_history_rejects")


def test_live_rows_that_differ_from_the_imported_day_are_reported_at_their_timestamps(
    con, tmp_path
):
    day = _day(tmp_path)
    _store_live_copy(con, day, tmp_path)
    drifted = [
        r[0]
        for r in con.execute(
            "SELECT timestamp FROM gex_snapshots ORDER BY timestamp LIMIT 3 OFFSET 100"
        ).fetchall()
    ]
    con.execute(
        "UPDATE gex_snapshots SET spot = spot * 1.003 WHERE timestamp IN (SELECT unnest($ts))",
        {"ts": drifted},
    )
    _import(con, day, tmp_path)
    result = live_history_drift(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.counts == {"compared_snapshots": 300, "differing_snapshots": 3}
    assert result.examples["differing"] == tuple(drifted)
    assert result.details["max_spot_diff"] == pytest.approx(0.003, rel=0.01)


def test_live_rows_equal_to_the_imported_day_pass_and_survive_a_second_import(con, tmp_path):
    day = _day(tmp_path)
    _store_live_copy(con, day, tmp_path)
    _import(con, day, tmp_path)
    _import(con, day, tmp_path)
    result = live_history_drift(con, FEED_DAY, EVERY)
    assert result.passed
    assert result.counts["compared_snapshots"] == 300
