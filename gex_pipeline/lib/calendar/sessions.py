"""NYSE trading sessions (exchange-calendars, XNYS): the single source of session days, opens
and closes for partitions, integrity checks and the demo generator.

A session is an America/New_York date on which the exchange trades: no weekends, no full
holidays; early-close days (13:00) are sessions with an earlier close. The calendar covers
`SESSIONS_START` to about a year ahead of today (what exchange-calendars publishes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import exchange_calendars

EXCHANGE = "XNYS"
SESSIONS_START = date(2022, 1, 3)  # the first session of 2022 (Jan 1 is a Saturday)
REGULAR_SESSION_MS = int(6.5 * 3600 * 1000)


@dataclass(frozen=True)
class Session:
    """One trading session: its date and its open and close instants (epoch ms UTC)."""

    day: date
    open_ms: int
    close_ms: int

    @property
    def early_close(self) -> bool:
        """True on a shortened session (e.g. 13:00 New York close)."""
        return self.close_ms - self.open_ms < REGULAR_SESSION_MS


@cache
def _calendar() -> exchange_calendars.ExchangeCalendar:
    import exchange_calendars

    return exchange_calendars.get_calendar(EXCHANGE, start=SESSIONS_START.isoformat())


@cache
def _sessions() -> dict[date, Session]:
    cal = _calendar()
    opens = cal.schedule["open"].astype("int64") // 1_000_000
    closes = cal.schedule["close"].astype("int64") // 1_000_000
    return {
        label.date(): Session(label.date(), int(o), int(c))
        for label, o, c in zip(cal.schedule.index, opens, closes, strict=True)
    }


def last_calendar_day() -> date:
    """The last day the calendar knows (about a year ahead)."""
    return _calendar().last_session.date()


def session(day: date) -> Session | None:
    """The session held on `day`, or None (weekend, holiday, or outside the calendar's range)."""
    return _sessions().get(day)


def is_session(day: date) -> bool:
    """True when `day` is a trading session."""
    return day in _sessions()


def sessions_between(start: date, end: date) -> list[Session]:
    """Sessions from `start` to `end`, both included, in order."""
    return [s for d, s in _sessions().items() if start <= d <= end]


def weekday_closures(start: date, end: date) -> list[date]:
    """Weekdays from `start` to `end` on which the exchange is closed (full holidays)."""
    known = _sessions()
    days = (start + timedelta(n) for n in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5 and d not in known]


def previous_session(day: date) -> Session | None:
    """The last session before `day` (within two weeks)."""
    earlier = sessions_between(day - timedelta(days=14), day - timedelta(days=1))
    return earlier[-1] if earlier else None
