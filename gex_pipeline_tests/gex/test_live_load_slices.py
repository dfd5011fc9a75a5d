"""The live load inserts strike rows in parallel slices and leaves the connection as it found it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import STRIKE_ROWS_PER_SLICE, StagingRecordError, load_segments
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

THREADS = 4
STRIKES = 100
# Enough new strike rows for one slice per thread.
SNAPSHOTS = THREADS * STRIKE_ROWS_PER_SLICE // STRIKES + 1


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        con.execute(f"SET threads = {THREADS}")
        yield con


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def _snapshot_strikes(snapshot: int) -> list[list[object]]:
    """STRIKES distinct strikes, then the first strike again with another gamma."""
    rows: list[list[object]] = [
        [6000.0 + i, float(snapshot), float(i), [1.0, 2.0, 3.0, 4.0, float(i)]]
        for i in range(STRIKES)
    ]
    return [*rows, [6000.0, -1.0, None, None]]


def _segments(tree: GexStagingTree, spot: float = 6734.25) -> list[Segment]:
    per_segment = 100
    return [
        tree.seal(
            [
                tree.record(
                    timestamp=GEX_BASE_MS + n * 1000, spot=spot, strikes=_snapshot_strikes(n)
                )
                for n in range(start, min(start + per_segment, SNAPSHOTS))
            ]
        )
        for start in range(0, SNAPSHOTS, per_segment)
    ]


def _insertion_order(con: duckdb.DuckDBPyConnection) -> bool:
    return _rows(con, "SELECT current_setting('preserve_insertion_order')")[0][0]


def test_sliced_strike_insert_stores_every_strike_of_every_snapshot_once(
    con, gex_staging: GexStagingTree
) -> None:
    load_segments(con, _segments(gex_staging))
    assert _rows(con, "SELECT count(*), count(DISTINCT (timestamp, strike)) FROM gex_strikes") == [
        (SNAPSHOTS * STRIKES, SNAPSHOTS * STRIKES)
    ]


def test_sliced_strike_insert_keeps_the_first_row_of_a_repeated_strike(
    con, gex_staging: GexStagingTree
) -> None:
    load_segments(con, _segments(gex_staging))
    assert _rows(con, "SELECT count(*) FROM gex_strikes WHERE gamma < 0") == [(0,)]
    assert _rows(
        con,
        "SELECT count(*) FROM gex_strikes"
        f" WHERE gamma <> (timestamp - {GEX_BASE_MS}) // 1000 OR priors[5] <> strike - 6000",
    ) == [(0,)]


def test_sliced_load_matches_a_one_thread_load(
    con, tmp_path: Path, gex_staging: GexStagingTree
) -> None:
    segments = _segments(gex_staging)
    load_segments(con, segments)
    with connect(tmp_path / "one.db") as one:
        migrate(one)
        one.execute("SET threads = 1")
        load_segments(one, segments)
    con.execute(f"ATTACH '{tmp_path / 'one.db'}' AS one (READ_ONLY)")
    for table in ("gex_strikes", "gex_snapshots"):
        columns = "* EXCLUDE (ingested_at)" if table == "gex_snapshots" else "*"
        assert _rows(
            con,
            f"SELECT count(*) FROM ((SELECT {columns} FROM {table} EXCEPT ALL"
            f" SELECT {columns} FROM one.{table}) UNION ALL (SELECT {columns}"
            f" FROM one.{table} EXCEPT ALL SELECT {columns} FROM {table}))",
        ) == [(0,)]


def test_first_arrival_wins_when_the_connection_does_not_preserve_insertion_order(
    con, gex_staging: GexStagingTree
) -> None:
    con.execute("SET preserve_insertion_order = false")
    early = _segments(gex_staging, spot=1.0)
    late = _segments(gex_staging, spot=2.0)
    report = load_segments(con, [*late, *early])
    assert report.total("conflicts") == SNAPSHOTS
    assert _rows(con, "SELECT DISTINCT spot FROM gex_snapshots") == [(1.0,)]


@pytest.mark.parametrize("preserve", [False, True])
def test_load_gives_back_the_callers_insertion_order_setting(
    con, gex_staging: GexStagingTree, preserve: bool
) -> None:
    con.execute(f"SET preserve_insertion_order = {str(preserve).lower()}")
    load_segments(con, _segments(gex_staging))
    assert _insertion_order(con) is preserve


def test_failed_load_gives_back_the_callers_insertion_order_setting(
    con, gex_staging: GexStagingTree
) -> None:
    con.execute("SET preserve_insertion_order = false")
    with pytest.raises(StagingRecordError):
        load_segments(con, [gex_staging.seal([gex_staging.record(ticker="bad ticker")])])
    assert _insertion_order(con) is False


def test_load_leaves_the_insertion_order_setting_of_other_connections_alone(
    con, gex_staging: GexStagingTree
) -> None:
    other = con.cursor()
    con.execute("SET SESSION preserve_insertion_order = false")
    load_segments(con, _segments(gex_staging))
    assert _insertion_order(other) is True
    assert _insertion_order(con) is False
