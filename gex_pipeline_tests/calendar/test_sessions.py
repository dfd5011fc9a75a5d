"""NYSE sessions from exchange-calendars: weekends and holidays are not sessions, early closes are."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gex_pipeline.lib.calendar.sessions import (
    is_session,
    session,
    sessions_between,
    weekday_closures,
)


def _utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def test_a_regular_session_opens_0930_and_closes_1600_new_york() -> None:
    day = session(date(2025, 11, 14))
    assert day is not None and not day.early_close
    assert _utc(day.open_ms) == datetime(2025, 11, 14, 14, 30, tzinfo=UTC)
    assert _utc(day.close_ms) == datetime(2025, 11, 14, 21, 0, tzinfo=UTC)


def test_the_day_after_thanksgiving_closes_at_1300() -> None:
    day = session(date(2025, 11, 28))
    assert day is not None and day.early_close
    assert _utc(day.close_ms) == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)


def test_summer_time_moves_the_open_in_utc() -> None:
    day = session(date(2025, 7, 1))
    assert day is not None
    assert _utc(day.open_ms) == datetime(2025, 7, 1, 13, 30, tzinfo=UTC)


def test_weekends_and_full_holidays_are_not_sessions() -> None:
    assert not is_session(date(2025, 11, 15))  # Saturday
    assert not is_session(date(2025, 11, 27))  # Thanksgiving
    assert not is_session(date(2025, 1, 9))  # national day of mourning (ad hoc closure)
    assert session(date(2025, 12, 25)) is None


def test_weekday_closures_list_the_holidays_of_a_month() -> None:
    assert weekday_closures(date(2025, 11, 1), date(2025, 11, 30)) == [date(2025, 11, 27)]


def test_sessions_between_counts_trading_days() -> None:
    november = sessions_between(date(2025, 11, 1), date(2025, 11, 30))
    assert len(november) == 19
    assert [s.day for s in november][:2] == [date(2025, 11, 3), date(2025, 11, 4)]
