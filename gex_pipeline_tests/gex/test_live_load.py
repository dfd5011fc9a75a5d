"""The DuckDB load of staged /gex segments: first arrival wins, exactly once, conflicts kept."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import (
    GexStreamLoad,
    StagingRecordError,
    load_segments,
)
from gex_pipeline.lib.live.microbatch import load_batch_isolating
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline_tests.support.figures import recomputed_figures, recorded_figures
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)
SNAPSHOT_COLUMNS = (
    "ticker, endpoint, timestamp, trade_date, spot, strike_count, content_hash, payload_id"
)


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        yield con


def _rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def _snapshots(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return _rows(con, f"SELECT {SNAPSHOT_COLUMNS} FROM gex_snapshots ORDER BY ALL")


def _strikes(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return _rows(con, "SELECT * FROM gex_strikes ORDER BY ALL")


def test_first_arrival_wins_within_a_segment(con, gex_staging: GexStagingTree) -> None:
    first = gex_staging.record(spot=1.0)
    second = gex_staging.record(spot=2.0)
    load_segments(con, [gex_staging.seal([first, second])])
    assert _rows(con, "SELECT spot, payload_id FROM gex_snapshots") == [(1.0, first["id"])]


def test_first_arrival_wins_across_segments_by_seq(con, gex_staging: GexStagingTree) -> None:
    early = gex_staging.seal([gex_staging.record(spot=1.0)])
    late = gex_staging.seal([gex_staging.record(spot=2.0)])
    load_segments(con, [late, early])
    assert _rows(con, "SELECT spot FROM gex_snapshots") == [(1.0,)]


def test_identical_repost_is_a_counted_no_op(con, gex_staging: GexStagingTree) -> None:
    record = gex_staging.record()
    load_segments(con, [gex_staging.seal([record])])
    before = (_snapshots(con), _strikes(con))
    repost = {**record, "id": "f" * 32, "received_at": record["received_at"] + 5000}
    report = load_segments(con, [gex_staging.seal([repost])])
    assert (
        report.total("duplicates"),
        report.total("conflicts"),
        report.total("snapshots_added"),
    ) == (1, 0, 0)
    assert (_snapshots(con), _strikes(con)) == before
    assert _rows(con, "SELECT count(*) FROM gex_conflicts") == [(0,)]


def test_conflicting_repost_is_counted_and_kept_aside(con, gex_staging: GexStagingTree) -> None:
    record = gex_staging.record(spot=1.0)
    load_segments(con, [gex_staging.seal([record])])
    other = gex_staging.record(spot=9.0)
    report = load_segments(con, [gex_staging.seal([other])])
    assert (report.total("duplicates"), report.total("conflicts")) == (0, 1)
    assert _rows(con, "SELECT spot FROM gex_snapshots") == [(1.0,)]
    kept = _rows(con, "SELECT payload_id, record->>'$.spot' FROM gex_conflicts")
    assert kept == [(other["id"], "9.0")]


def test_conflict_inside_one_batch_is_counted_against_the_first(
    con, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal(
        [gex_staging.record(spot=1.0), gex_staging.record(spot=1.0), gex_staging.record(spot=3.0)]
    )
    report = load_segments(con, [segment])
    assert (
        report.total("snapshots_added"),
        report.total("duplicates"),
        report.total("conflicts"),
    ) == (1, 1, 1)


def test_reloading_the_same_segments_changes_nothing(con, gex_staging: GexStagingTree) -> None:
    segments = [gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + i)]) for i in range(3)]
    load_segments(con, segments)
    before = (_snapshots(con), _strikes(con))
    report = load_segments(con, segments)
    assert report.loaded_segments == []
    assert report.already_loaded_segments == [s.name for s in segments]
    assert (_snapshots(con), _strikes(con)) == before


def test_reload_reports_the_stats_of_the_committed_batch_again(
    con, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record()])
    first = load_segments(con, [segment])
    again = load_segments(con, [segment])
    assert again.stats == first.stats


def test_duplicate_strikes_in_one_snapshot_keep_the_first(con, gex_staging: GexStagingTree) -> None:
    strikes = [[6700.0, 1.0, None, None], [6700.0, 2.0, None, None], [6705.0, 3.0, None, None]]
    load_segments(con, [gex_staging.seal([gex_staging.record(strikes=strikes)])])
    assert _rows(con, "SELECT strike, gamma FROM gex_strikes ORDER BY strike") == [
        (6700.0, 1.0),
        (6705.0, 3.0),
    ]
    assert _rows(con, "SELECT strike_count FROM gex_snapshots") == [(2,)]


def test_short_strike_rows_load_with_null_oi_and_priors(con, gex_staging: GexStagingTree) -> None:
    load_segments(con, [gex_staging.seal([gex_staging.record(strikes=[[1.5, 2.5, None, None]])])])
    assert _rows(con, "SELECT strike, gamma, oi_gamma, priors FROM gex_strikes") == [
        (1.5, 2.5, None, None)
    ]


def test_partial_kinds_are_kept_in_gex_events(con, gex_staging: GexStagingTree) -> None:
    majors = gex_staging.record(kind="majors", strikes=[])
    change = gex_staging.record(kind="maxchange", strikes=[], max_change={"current": [1.0, 2.0]})
    report = load_segments(con, [gex_staging.seal([majors, change])])
    assert report.stats[0].events_added == 2
    assert _rows(con, "SELECT count(*) FROM gex_snapshots") == [(0,)]
    assert _rows(
        con, "SELECT kind, record->'$.max_change.current' FROM gex_events ORDER BY kind"
    ) == [
        ("majors", None),
        ("maxchange", "[1.0,2.0]"),
    ]


def test_evening_snapshot_lands_in_its_new_york_trading_date(
    con, gex_staging: GexStagingTree
) -> None:
    evening = int(datetime(2025, 11, 15, 1, 30, tzinfo=UTC).timestamp() * 1000)  # 20:30 ET
    report = load_segments(con, [gex_staging.seal([gex_staging.record(timestamp=evening)])])
    assert [p.trade_date for p in report.stats] == [DAY]
    assert _rows(con, "SELECT DISTINCT trade_date FROM gex_strikes") == [(DAY,)]


def test_stats_are_reported_per_date_and_feed(con, gex_staging: GexStagingTree) -> None:
    records = [
        gex_staging.record("SPX", timestamp=GEX_BASE_MS),
        gex_staging.record("SPX", timestamp=GEX_BASE_MS + 1000),
        gex_staging.record("SPX", timestamp=GEX_BASE_MS + 1000),
        gex_staging.record("NQ_NDX", "gex_one", timestamp=GEX_BASE_MS + 86_400_000),
    ]
    report = load_segments(con, [gex_staging.seal(records)])
    summary = [
        (
            p.trade_date,
            p.ticker,
            p.endpoint,
            p.snapshots_added,
            p.strikes_added,
            p.duplicates,
            p.first_timestamp,
            p.last_timestamp,
        )
        for p in report.stats
    ]
    assert summary == [
        (DAY, "SPX", "gex_zero", 2, 6, 1, GEX_BASE_MS, GEX_BASE_MS + 1000),
        (
            date(2025, 11, 15),
            "NQ_NDX",
            "gex_one",
            1,
            3,
            0,
            GEX_BASE_MS + 86_400_000,
            GEX_BASE_MS + 86_400_000,
        ),
    ]


def test_invalid_record_fails_the_batch_naming_segment_line_and_field(
    con, gex_staging: GexStagingTree
) -> None:
    good = gex_staging.seal([gex_staging.record()])
    bad = gex_staging.seal([gex_staging.record(ticker=None)])
    with pytest.raises(StagingRecordError, match=f"segment {bad.name} line 1: .*'ticker'"):
        load_segments(con, [good, bad])
    for table in ("gex_snapshots", "gex_strikes", "loaded_segments", "loaded_partitions"):
        assert _rows(con, f"SELECT count(*) FROM {table}") == [(0,)]


def test_record_with_non_array_strikes_is_refused(con, gex_staging: GexStagingTree) -> None:
    segment = gex_staging.seal([gex_staging.record(strikes={"6700": 1.0})])
    with pytest.raises(StagingRecordError, match="'strikes'"):
        load_segments(con, [segment])


def test_isolating_load_sets_bad_segments_aside_and_loads_the_rest(
    con, gex_staging: GexStagingTree
) -> None:
    good = gex_staging.seal([gex_staging.record()])
    bad = gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1)])
    bad.path.write_text(bad.path.read_text() + "{torn\n")
    later = gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 2)])
    result = load_batch_isolating(con, GexStreamLoad(), [good, bad, later])
    assert list(result.rejected) == [bad.name]
    assert "Malformed JSON" in result.rejected[bad.name]
    assert result.report.loaded_segments == [good.name, later.name]
    assert _rows(con, "SELECT timestamp FROM gex_snapshots ORDER BY 1") == [
        (GEX_BASE_MS,),
        (GEX_BASE_MS + 2,),
    ]


LOADER = """
import sys
from pathlib import Path
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import StagingRecordError, load_segments
from gex_pipeline.lib.staging.reader import Segment
segments = [Segment(int(Path(p).name[:20]), Path(p)) for p in sys.argv[2:]]
with connect(Path(sys.argv[1])) as con:
    migrate(con)
    print("loading", flush=True)
    load_segments(con, segments)
"""


def _big_batch(tree: GexStagingTree) -> list[Segment]:
    strikes = [[6000.0 + i, float(i), float(-i), [1.0, 2.0, 3.0, 4.0, 5.0]] for i in range(100)]
    return [
        tree.seal(
            [
                tree.record(timestamp=GEX_BASE_MS + (s * 300 + r) * 1000, strikes=strikes)
                for r in range(300)
            ]
        )
        for s in range(10)
    ]


def _differences(con: duckdb.DuckDBPyConnection, other: str) -> dict[str, int]:
    """Rows of each table found on one side only (compared in DuckDB against attached `other`)."""
    columns = {"gex_snapshots": SNAPSHOT_COLUMNS, "gex_strikes": "*"}
    return {
        table: _rows(
            con,
            f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL"
            f" SELECT {cols} FROM {other}.{table})) + (SELECT count(*) FROM (SELECT {cols}"
            f" FROM {other}.{table} EXCEPT ALL SELECT {cols} FROM {table}))",
        )[0][0]
        for table, cols in columns.items()
    }


@pytest.mark.parametrize("kill_after_seconds", [0.1, 0.4, 0.8])
def test_killed_load_followed_by_a_retry_gives_the_same_tables(
    tmp_path: Path, gex_staging: GexStagingTree, kill_after_seconds: float
) -> None:
    segments = _big_batch(gex_staging)
    with connect(tmp_path / "clean.db") as clean:
        migrate(clean)
        load_segments(clean, segments)
    crashed = tmp_path / "crashed.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", LOADER, str(crashed), *(str(s.path) for s in segments)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"loading\n"
    time.sleep(kill_after_seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with connect(crashed) as con:
        migrate(con)
        load_segments(con, segments)
        con.execute(f"ATTACH '{tmp_path / 'clean.db'}' AS clean (READ_ONLY)")
        assert _differences(con, "clean") == {"gex_snapshots": 0, "gex_strikes": 0}
        assert _rows(con, "SELECT count(*) FROM gex_strikes") == [(300_000,)]
        assert _rows(con, "SELECT count(*) FROM loaded_segments") == [(len(segments),)]
        assert recorded_figures(con) == recomputed_figures(con)
