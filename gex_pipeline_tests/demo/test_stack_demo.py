"""`demo run`'s history date: the session before today, and a clear error at the calendar's edges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gex_pipeline.cli.demo.stack_demo import history_trade_date
from gex_pipeline.lib.calendar.sessions import SESSIONS_START, last_calendar_day


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 11, 18), date(2025, 11, 17)),  # Tuesday -> Monday
        (date(2025, 11, 17), date(2025, 11, 14)),  # Monday -> Friday
        (date(2025, 11, 28), date(2025, 11, 26)),  # the day after Thanksgiving -> Wednesday
    ],
)
def test_history_date_is_the_session_before_today(today: date, expected: date) -> None:
    assert history_trade_date(today) == expected


@pytest.mark.parametrize(
    "today", [SESSIONS_START, last_calendar_day() + timedelta(days=30)], ids=["start", "end"]
)
def test_no_session_before_today_is_a_clear_error_naming_the_field(today: date) -> None:
    with pytest.raises(ValueError, match=r"^history date: no NYSE session .* calendar covers"):
        history_trade_date(today)
