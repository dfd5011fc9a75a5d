"""Trading session of a day, as epoch seconds, from the NYSE calendar (`lib/calendar/sessions.py`).

The demo generator takes its open and close from the same calendar as the partitions and the
integrity checks: 09:30-16:00 New York on a regular session, 09:30-13:00 on an early close.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gex_pipeline.lib.calendar.sessions import Session, session

NEW_YORK = ZoneInfo("America/New_York")
SESSION_CLOSE = dt.time(16, 0)  # the regular close (option expiries in the webhook demo)


def parse_trade_date(value: str | dt.date) -> dt.date:
    """A trade date from `YYYY-MM-DD` (or a date); a ValueError names the field otherwise."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"trade_date: expected YYYY-MM-DD, got {value!r}") from exc


def trading_session(trade_date: dt.date) -> Session:
    """The NYSE session on `trade_date`; a ValueError names the field when there is none."""
    found = session(trade_date)
    if found is None:
        raise ValueError(
            f"trade_date: {trade_date.isoformat()} is not an NYSE session (weekend or holiday)"
        )
    return found


def session_bounds(trade_date: dt.date) -> tuple[int, int]:
    """Epoch seconds of the session's open and close on `trade_date` (close is exclusive)."""
    found = trading_session(trade_date)
    return found.open_ms // 1000, found.close_ms // 1000


def session_seconds(trade_date: dt.date) -> int:
    """Number of 1 Hz snapshots in the session of `trade_date` (23,400; 12,600 on an early close)."""
    open_ts, close_ts = session_bounds(trade_date)
    return close_ts - open_ts


def previous_session(today: dt.date) -> dt.date:
    """The last NYSE session before `today`."""
    day = today - dt.timedelta(days=1)
    while session(day) is None:
        day -= dt.timedelta(days=1)
    return day
