"""Trading dates (America/New_York) and feed keys, in Python and in DuckDB SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pytest

from gex_pipeline.defs.partitions import gex_partition_key, parse_gex_partition_key
from gex_pipeline.lib.calendar.trading_date import (
    feed_key,
    parse_feed_key,
    trade_date_sql,
    trading_date_of,
)


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_evening_snapshot_after_utc_midnight_belongs_to_new_york_date() -> None:
    # 20:30 EST on 2025-11-14 is 01:30 UTC on 2025-11-15.
    assert trading_date_of(_ms(2025, 11, 15, 1, 30)) == date(2025, 11, 14)


def test_snapshot_just_after_new_york_midnight_belongs_to_next_date() -> None:
    assert trading_date_of(_ms(2025, 11, 15, 5, 0)) == date(2025, 11, 15)


def test_summer_time_shifts_the_day_boundary_to_four_utc() -> None:
    # EDT (UTC-4): 03:59 UTC is still the previous New York day, 04:00 UTC is the next one.
    assert trading_date_of(_ms(2025, 7, 15, 3, 59)) == date(2025, 7, 14)
    assert trading_date_of(_ms(2025, 7, 15, 4, 0)) == date(2025, 7, 15)


def test_dst_start_and_end_days_map_their_whole_session_to_that_date() -> None:
    # 2025-03-09 (spring forward) and 2025-11-02 (fall back), 09:30 to 20:30 local.
    assert trading_date_of(_ms(2025, 3, 9, 13, 30)) == date(2025, 3, 9)
    assert trading_date_of(_ms(2025, 3, 10, 0, 30)) == date(2025, 3, 9)
    assert trading_date_of(_ms(2025, 11, 2, 14, 30)) == date(2025, 11, 2)
    assert trading_date_of(_ms(2025, 11, 3, 1, 30)) == date(2025, 11, 2)


@pytest.mark.parametrize(
    "epoch_ms",
    [
        _ms(2025, 11, 15, 1, 30),
        _ms(2025, 11, 15, 4, 59, 59),
        _ms(2025, 11, 15, 5, 0),
        _ms(2025, 7, 15, 3, 59),
        _ms(2025, 7, 15, 4, 0),
        _ms(2025, 3, 9, 6, 59),
        _ms(2025, 3, 9, 7, 0),
        _ms(2025, 11, 2, 4, 30),
        _ms(2025, 11, 2, 5, 30),
    ],
)
def test_sql_trade_date_agrees_with_python(epoch_ms: int) -> None:
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT {trade_date_sql('ts')} FROM (SELECT $ts::BIGINT AS ts)", {"ts": epoch_ms}
        ).fetchall()
    finally:
        con.close()
    assert rows[0][0] == trading_date_of(epoch_ms)


def test_feed_key_round_trips_tickers_with_underscores() -> None:
    assert feed_key("NQ_NDX", "gex_zero") == "NQ_NDX.gex_zero"
    assert parse_feed_key("NQ_NDX.gex_zero") == ("NQ_NDX", "gex_zero")


@pytest.mark.parametrize("key", ["SPX", "SPX.gex_two", "spx.gex_zero", "S|X.gex_zero", ".gex_one"])
def test_malformed_feed_key_is_refused_naming_it(key: str) -> None:
    with pytest.raises(ValueError, match="got"):
        parse_feed_key(key)


def test_partition_key_joins_date_and_feed_and_parses_back() -> None:
    key = gex_partition_key(date(2025, 11, 14), "ES_SPX", "gex_full")
    assert str(key) == "2025-11-14|ES_SPX.gex_full"
    assert parse_gex_partition_key(str(key)) == (date(2025, 11, 14), "ES_SPX", "gex_full")
