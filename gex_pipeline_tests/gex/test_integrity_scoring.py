"""Issue 13's done-when: generated defects of every kind are found at the right place, and a clean
generated month (an early close, a holiday, both DST switches) raises no alarm: precision and
recall 100%, scored against the demo generator's defect manifests.

Days are full sessions at a 10 s cadence with 2 strikes (2,340 snapshots, 1,260 on an early
close), imported through the history import and exported, so the checks see what production sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.cli.demo.defects import DayManifest
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.calendar.sessions import session, sessions_between
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import (
    FeedDay,
    IntegrityResult,
    Thresholds,
    partition_checks,
    publish_blockers,
)
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.gex.validate import MISSING, validate
from gex_pipeline.lib.history.day_format import DayFileInvalid
from gex_pipeline.lib.history.day_import import import_day_file

CADENCE = 10
LIMITS = Thresholds(cadence_seconds=CADENCE, max_gap_seconds=3 * CADENCE, examples=1000)
CLEAN, DEFECTS = ("SPX", "gex_zero"), ("NDX", "gex_zero")
# A month of sessions: 31 Oct and November 2025 (fall DST switch on 2 Nov, Thanksgiving on 27 Nov,
# early close on 28 Nov) and the sessions around the spring switch (9 Mar 2025).
CLEAN_DAYS = [
    date(2025, 3, 7),
    date(2025, 3, 10),
    *(s.day for s in sessions_between(date(2025, 10, 31), date(2025, 11, 28))),
]
# One defect kind per day, so every alarm can be traced to the defect that should cause it.
DEFECT_DAYS = {
    "gap": date(2025, 12, 1),
    "spike": date(2025, 12, 2),
    "zero": date(2025, 12, 3),
    "out_of_session": date(2025, 12, 4),
    "duplicate": date(2025, 12, 5),
    "late_start": date(2025, 12, 8),
    "early_end": date(2025, 12, 9),
    "wrong_date": date(2025, 12, 10),
}
AFTER_EARLY_CLOSE = date(2025, 12, 24)  # rows after the 13:00 close
HOLIDAY = date(2025, 12, 25)  # a full session filed on a market holiday
DRIFT = date(2025, 12, 11)  # live rows that differ from the imported file

Finding = tuple[date, str, int, int]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scoring")


@pytest.fixture(scope="module")
def con(work: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(work / "gex.db") as connection:
        migrate(connection)
        yield connection


def _load(
    con: duckdb.DuckDBPyConnection, work: Path, feed: tuple[str, str], day: date, defects: str = ""
) -> DayManifest:
    """Generate, import and (unless an ERROR check holds it back) export one feed-day."""
    ticker, endpoint = feed
    made = make_day_file(
        work / "files", day, ticker, endpoint, snapshots=None, strikes=2, cadence=CADENCE,
        defects=defects,
    )  # fmt: skip
    import_day_file(
        con, made.path, ticker=ticker, endpoint=endpoint, trade_date=day,
        backups_dir=work / "backups", force=True,
    )  # fmt: skip
    if not publish_blockers(con, FeedDay(day, ticker, endpoint), LIMITS):
        export_partition(con, work / "parquet", ticker, endpoint, day)
    return made.manifest


def _findings(day: date, results: list[IntegrityResult]) -> set[Finding]:
    """Every alarm as (day, check, start, end): blocks, else example timestamps, else the day."""
    found: set[Finding] = set()
    for result in results:
        if result.passed:
            continue
        spans = [(b.start_ms, b.end_ms) for bs in result.blocks.values() for b in bs]
        spans = spans or [(ts, ts) for stamps in result.examples.values() for ts in stamps]
        found |= {(day, result.name, s, e) for s, e in spans or [(0, 0)]}
    return found


def _expected(day: date, manifest: DayManifest) -> set[Finding]:
    """Where each injected defect must be reported (epoch ms)."""
    ms, step = 1000, CADENCE * 1000
    out: set[Finding] = set()
    for d in manifest.defects:
        stamps = [ts * ms for ts in d.timestamps]
        if d.kind == "gap":
            out.add((day, "timestamp_gaps", d.start * ms - step, d.end * ms + step))
        elif d.kind == "late_start":
            out.add((day, "session_coverage", manifest.session_open * ms, d.end * ms + step))
        elif d.kind == "early_end":
            out.add((day, "session_coverage", d.start * ms - step, manifest.session_close * ms))
        elif d.kind == "out_of_session":
            out.add((day, "out_of_session_rows", stamps[0], stamps[-1]))
        elif d.kind in ("zero", "spike", "duplicate"):
            name = {"zero": "zero_snapshots", "spike": "spot_spikes"}.get(
                d.kind, "history_dropped_rows"
            )
            out.add((day, name, stamps[0], stamps[0]))
        elif d.kind == "wrong_date":
            out |= {(day, "history_foreign_rows", ts, ts) for ts in stamps}
    return out


def _check(con: duckdb.DuckDBPyConnection, work: Path, feed: tuple[str, str], day: date):
    return partition_checks(con, FeedDay(day, *feed), work / "parquet", LIMITS)


def _drift_day(con: duckdb.DuckDBPyConnection, work: Path) -> set[Finding]:
    """Live copies of three seconds drift by 0.3% in spot; the import then replaces them."""
    _load(con, work, DEFECTS, DRIFT)
    con.execute("UPDATE gex_snapshots SET source = 'live' WHERE trade_date = $d", {"d": DRIFT})
    drifted = [
        r[0]
        for r in con.execute(
            "SELECT timestamp FROM gex_snapshots WHERE trade_date = $d AND ticker = 'NDX'"
            " ORDER BY timestamp LIMIT 3 OFFSET 500",
            {"d": DRIFT},
        ).fetchall()
    ]
    con.execute(
        "UPDATE gex_snapshots SET spot = spot * 1.003 WHERE ticker = 'NDX'"
        " AND timestamp IN (SELECT unnest($ts))",
        {"ts": drifted},
    )
    _load(con, work, DEFECTS, DRIFT)
    return {(DRIFT, "live_history_drift", ts, ts) for ts in drifted}


@pytest.fixture(scope="module")
def expected(con: duckdb.DuckDBPyConnection, work: Path) -> set[Finding]:
    """Load the clean month and every defect day; return where the defects must be reported."""
    out: set[Finding] = set()
    for day in CLEAN_DAYS:
        _load(con, work, CLEAN, day)
    for kind, day in DEFECT_DAYS.items():
        out |= _expected(day, _load(con, work, DEFECTS, day, kind))
    out |= _expected(
        AFTER_EARLY_CLOSE, _load(con, work, DEFECTS, AFTER_EARLY_CLOSE, "out_of_session")
    )
    holiday = _load(con, work, DEFECTS, HOLIDAY)
    first, last = holiday.session_open, holiday.session_close - CADENCE  # every row is outside
    out.add((HOLIDAY, "out_of_session_rows", first * 1000, last * 1000))
    return out | _drift_day(con, work)


def test_every_defect_is_found_where_it_is_and_a_clean_month_raises_no_alarm(con, work, expected):
    found: set[Finding] = set()
    for day in CLEAN_DAYS:
        found |= _findings(day, _check(con, work, CLEAN, day))
    for day in (*DEFECT_DAYS.values(), AFTER_EARLY_CLOSE, HOLIDAY, DRIFT):
        found |= _findings(day, _check(con, work, DEFECTS, day))

    assert session(AFTER_EARLY_CLOSE).early_close and session(HOLIDAY) is None
    assert len(expected) >= 13
    false_alarms, misses = found - expected, expected - found
    precision = len(found & expected) / len(found)
    recall = len(found & expected) / len(expected)
    assert (false_alarms, misses) == (set(), set())
    assert (precision, recall) == (1.0, 1.0)


def test_validate_over_the_parquet_of_the_clean_month_raises_no_alarm(work, expected):
    reports = list(
        validate(work / "parquet", CLEAN_DAYS[0], CLEAN_DAYS[-1], ["SPX.gex_zero"], LIMITS)
    )
    assert [r for r in reports if r.failed] == []
    checked = {r.day.trade_date for r in reports if r.status != MISSING}
    assert checked == set(CLEAN_DAYS)
    assert date(2025, 11, 27) not in {r.day.trade_date for r in reports}


def test_validate_finds_the_table_defects_where_the_database_checks_do(con, work, expected):
    for kind in ("gap", "spike", "zero", "out_of_session", "late_start", "early_end"):
        day = DEFECT_DAYS[kind]
        (report,) = validate(work / "parquet", day, day, ["NDX.gex_zero"], LIMITS)
        in_db = _findings(day, _check(con, work, DEFECTS, day))
        assert _findings(day, list(report.results)) == in_db


def test_truncated_file_is_refused_naming_the_file_and_changes_nothing(con, work):
    day = date(2025, 12, 12)
    made = make_day_file(
        work / "files", day, *DEFECTS, snapshots=None, strikes=2, cadence=CADENCE,
        defects="truncated",
    )  # fmt: skip
    with pytest.raises(DayFileInvalid, match="file"):
        import_day_file(
            con, made.path, ticker=DEFECTS[0], endpoint=DEFECTS[1], trade_date=day,
            backups_dir=work / "backups",
        )  # fmt: skip
    rows = con.execute("SELECT count(*) FROM gex_snapshots WHERE trade_date = $d", {"d": day})
    assert rows.fetchall() == [(0,)]
