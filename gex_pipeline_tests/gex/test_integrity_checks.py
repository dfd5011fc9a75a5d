"""Integrity checks of one partition, scored against the demo generator's defect manifest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from gex_pipeline.cli.demo.defects import DayManifest, Defect
from gex_pipeline.cli.demo.history_day import DayFile, make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import (
    ERROR,
    WARN,
    Block,
    FeedDay,
    Thresholds,
    duplicate_rows,
    out_of_session_rows,
    parquet_reconciliation,
    partition_checks,
    spot_spikes,
    timestamp_gaps,
    trade_date_mismatch,
    zero_snapshots,
)
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_import import import_day_file

DAY = date(2025, 11, 14)
TICKER, ENDPOINT = "SPX", "gex_zero"
FEED_DAY = FeedDay(DAY, TICKER, ENDPOINT)
ALL_DEFECTS = "gap,duplicate,spike,zero,out_of_session"
# Every example, so lists can be compared whole.
EVERY = Thresholds(examples=100)
NEW_YORK = ZoneInfo("America/New_York")


def _ms(epoch_seconds: int) -> int:
    """The manifest's epoch seconds as the epoch ms the checks report."""
    return epoch_seconds * 1000


TEN_SECONDS = Thresholds(cadence_seconds=10, max_gap_seconds=30, examples=100)


def _blocks_of(defects: list[Defect]) -> tuple[Block, ...]:
    """The blocks the checks report for contiguous manifest defects (one per defect)."""
    runs = sorted((_ms(d.timestamps[0]), _ms(d.timestamps[-1]), len(d.timestamps)) for d in defects)
    return tuple(Block(*run) for run in runs)


def _day(tmp_path: Path, defects: str = "") -> DayFile:
    return make_day_file(
        tmp_path / "source", DAY, TICKER, ENDPOINT, snapshots=1200, strikes=20, defects=defects
    )


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "gex.db") as connection:
        migrate(connection)
        yield connection


def _import(con: duckdb.DuckDBPyConnection, day: DayFile, tmp_path: Path) -> None:
    import_day_file(
        con,
        day.path,
        ticker=TICKER,
        endpoint=ENDPOINT,
        trade_date=DAY,
        backups_dir=tmp_path / "backups",
    )


@pytest.fixture
def defect_day(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> DayManifest:
    """A day file with every injected defect, imported through the history import library."""
    day = _day(tmp_path, ALL_DEFECTS)
    _import(con, day, tmp_path)
    return day.manifest


def _load_raw_strikes(con: duckdb.DuckDBPyConnection, day: DayFile) -> None:
    """Every strike row of every record of the file, repeated timestamps included (no dedup)."""
    source = str(day.path).replace("'", "''")
    con.execute(
        f"""
        INSERT INTO gex_strikes
        SELECT $ticker, $endpoint, ts * 1000, $trade_date, s[1]::DOUBLE, s[2]::DOUBLE,
               s[3]::DOUBLE, TRY_CAST(s[4] AS DOUBLE[])
        FROM (
            SELECT timestamp AS ts, unnest(strikes) AS s
            FROM read_json('{source}', columns = {{'timestamp': 'BIGINT', 'strikes': 'JSON[][]'}})
        )
        """,
        FEED_DAY.params(),
    )


def _add_snapshots(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, float]]) -> None:
    """Minimal snapshot rows (timestamp in epoch seconds, spot) of the test partition."""
    for ts, spot in rows:
        con.execute(
            "INSERT INTO gex_snapshots (ticker, endpoint, timestamp, trade_date, spot,"
            " sum_gex_vol, sum_gex_oi, strike_count, source, ingested_at)"
            " VALUES ($ticker, $endpoint, $ts, $trade_date, $spot, 1, 1, 0, 'test', now())",
            {**FEED_DAY.params(), "ts": ts * 1000, "spot": spot},
        )


def test_gap_is_reported_between_the_snapshots_around_the_manifest_gap(con, defect_day):
    (gap,) = defect_day.of_kind("gap")
    result = timestamp_gaps(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.counts == {"gaps": 1, "missing_seconds": gap.detail["missing"]}
    assert result.blocks["gap"] == (
        Block(_ms(gap.start - 1), _ms(gap.end + 1), gap.detail["missing"]),
    )
    assert result.instants["longest_gap_after"] == _ms(gap.start - 1)
    assert result.instants["longest_gap_resumed"] == _ms(gap.end + 1)


def test_gap_shorter_than_the_threshold_passes(con, defect_day):
    (gap,) = defect_day.of_kind("gap")
    result = timestamp_gaps(con, FEED_DAY, Thresholds(max_gap_seconds=gap.detail["missing"] + 1))
    assert result.passed
    assert result.counts["gaps"] == 0


def test_spike_is_reported_at_exactly_the_manifest_timestamp(con, defect_day):
    (spike,) = defect_day.of_kind("spike")
    result = spot_spikes(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.counts == {"spikes": 1, "jumps": 0}
    assert result.examples["spike"] == (_ms(spike.timestamps[0]),)


def test_lasting_spot_move_is_a_jump_at_the_first_snapshot_of_the_new_level(con):
    start = 1763130600
    _add_snapshots(con, [(start + i, 100.0 + 0.01 * (i % 3)) for i in range(40)])
    _add_snapshots(con, [(start + 40 + i, 105.0 + 0.01 * (i % 3)) for i in range(40)])
    result = spot_spikes(con, FEED_DAY, EVERY)
    assert result.counts == {"spikes": 0, "jumps": 1}
    assert result.examples["jump"] == (_ms(start + 40),)


def test_zero_snapshot_is_reported_at_exactly_the_manifest_timestamp(con, defect_day):
    (zero,) = defect_day.of_kind("zero")
    result = zero_snapshots(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.examples["zero_snapshot"] == (_ms(zero.timestamps[0]),)


def test_out_of_session_rows_are_exactly_the_manifest_rows(con, defect_day):
    expected = _blocks_of(defect_day.of_kind("out_of_session"))
    result = out_of_session_rows(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.counts == {"out_of_session_rows": sum(b.length for b in expected)}
    assert result.blocks["out_of_session"] == expected


def test_summer_day_session_follows_new_york_daylight_time(con, tmp_path):
    summer = date(2025, 7, 14)
    day = make_day_file(
        tmp_path / "summer",
        summer,
        TICKER,
        ENDPOINT,
        snapshots=600,
        strikes=5,
        defects="out_of_session",
    )
    import_day_file(
        con,
        day.path,
        ticker=TICKER,
        endpoint=ENDPOINT,
        trade_date=summer,
        backups_dir=tmp_path / "backups",
    )
    expected = _blocks_of(day.manifest.of_kind("out_of_session"))
    result = out_of_session_rows(con, FeedDay(summer, TICKER, ENDPOINT), EVERY)
    assert result.blocks["out_of_session"] == expected


def test_imported_day_keeps_no_duplicate_of_the_manifest_duplicate(con, defect_day):
    assert defect_day.of_kind("duplicate")
    result = duplicate_rows(con, FEED_DAY, EVERY)
    assert result.passed
    assert set(result.counts.values()) == {0}


def test_duplicate_record_loaded_raw_is_a_repeated_snapshot_at_its_timestamp(con, tmp_path):
    day = _day(tmp_path, "duplicate")
    (duplicate,) = day.manifest.of_kind("duplicate")
    _load_raw_strikes(con, day)
    result = duplicate_rows(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, ERROR)
    assert result.counts["strike_key_duplicates"] == day.manifest.strikes_per_snapshot
    assert result.counts["repeated_snapshots"] == 1
    assert result.examples["repeated_snapshot"] == (_ms(duplicate.timestamps[0]),)


def test_strike_repeated_inside_one_snapshot_is_reported_at_its_timestamp(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    (ts,) = con.execute(
        "INSERT INTO gex_strikes SELECT * FROM gex_strikes"
        " ORDER BY timestamp DESC, strike LIMIT 1 RETURNING timestamp"
    ).fetchone()
    result = duplicate_rows(con, FEED_DAY, EVERY)
    assert not result.passed
    assert result.counts["snapshots_with_duplicate_strikes"] == 1
    assert result.counts["repeated_snapshots"] == 0
    assert result.examples["duplicate_strike"] == (_ms(ts // 1000),)


def test_row_filed_under_another_new_york_date_is_reported(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    next_day = 1763130600 + 86_400
    _add_snapshots(con, [(next_day, 6800.0)])
    result = trade_date_mismatch(con, FEED_DAY, EVERY)
    assert (result.passed, result.severity) == (False, ERROR)
    assert result.counts == {"gex_snapshots_rows": 1, "gex_strikes_rows": 0}
    assert result.examples["wrong_date"] == (_ms(next_day),)


def test_evening_row_on_the_next_utc_date_keeps_its_new_york_trade_date(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    evening = int(datetime(2025, 11, 14, 20, 30, tzinfo=NEW_YORK).timestamp())
    _add_snapshots(con, [(evening, 6800.0)])
    assert trade_date_mismatch(con, FEED_DAY, EVERY).passed


def test_clean_full_session_passes_every_check(con, tmp_path):
    day = make_day_file(
        tmp_path / "source", DAY, TICKER, ENDPOINT, snapshots=None, strikes=3, cadence=10
    )
    _import(con, day, tmp_path)
    export_partition(con, tmp_path / "parquet", TICKER, ENDPOINT, DAY)
    results = partition_checks(con, FEED_DAY, tmp_path / "parquet", TEN_SECONDS)
    assert [r.name for r in results if not r.passed] == []
    assert len(results) == 11


def test_only_the_named_checks_run(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    names = ["spot_spikes", "parquet_reconciliation"]
    results = partition_checks(con, FEED_DAY, tmp_path / "parquet", names=names)
    assert [r.name for r in results] == names


def test_unknown_check_name_is_refused_naming_it(con):
    with pytest.raises(ValueError, match="no_such_check"):
        partition_checks(con, FEED_DAY, Path("parquet"), names=["no_such_check"])


def test_exported_partition_reconciles(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    export_partition(con, tmp_path / "parquet", TICKER, ENDPOINT, DAY)
    result = parquet_reconciliation(con, FEED_DAY, tmp_path / "parquet")
    assert result.passed
    assert result.counts["duckdb_rows"] == result.counts["parquet_rows"] == 1200 * 20


def test_parquet_value_edited_behind_the_pipeline_fails_at_its_timestamp(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    path = export_partition(con, tmp_path / "parquet", TICKER, ENDPOINT, DAY).path
    frame = pl.read_parquet(path)
    edited_ts = frame["timestamp"][500]
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 500)
        .then(pl.col("gamma") + 1.0)
        .otherwise(pl.col("gamma"))
        .alias("gamma")
    )
    frame.write_parquet(path)
    result = parquet_reconciliation(con, FEED_DAY, tmp_path / "parquet", EVERY)
    assert (result.passed, result.severity) == (False, ERROR)
    assert result.counts["duckdb_rows"] == result.counts["parquet_rows"]
    assert result.examples["differing_timestamp"] == (_ms(edited_ts // 1000),)


def test_parquet_missing_rows_fails_with_both_counts(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    path = export_partition(con, tmp_path / "parquet", TICKER, ENDPOINT, DAY).path
    pl.read_parquet(path).slice(1).write_parquet(path)
    result = parquet_reconciliation(con, FEED_DAY, tmp_path / "parquet")
    assert not result.passed
    assert result.counts == {"duckdb_rows": 24_000, "parquet_rows": 23_999}


def test_missing_parquet_file_fails_for_a_partition_with_rows(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    result = parquet_reconciliation(con, FEED_DAY, tmp_path / "parquet")
    assert not result.passed
    assert result.details["problem"] == "parquet file missing"


def test_unreadable_parquet_file_fails_naming_the_problem(con, tmp_path):
    _import(con, _day(tmp_path), tmp_path)
    path = export_partition(con, tmp_path / "parquet", TICKER, ENDPOINT, DAY).path
    path.write_bytes(b"not parquet")
    result = parquet_reconciliation(con, FEED_DAY, tmp_path / "parquet")
    assert not result.passed
    assert result.details["problem"] != "rows differ"
    assert result.details["problem"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_gap_seconds", 0), ("cadence_seconds", -1), ("spike_min_move", 1.5), ("examples", 0)],
)
def test_bad_threshold_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        Thresholds(**{field: value})
