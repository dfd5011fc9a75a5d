"""Trading session of a day in America/New_York, as epoch seconds (DST-correct).

Sessions come from the exchange calendar (`gex_pipeline.lib.calendar.sessions`): an early close
ends at 13:00. A day that is not a session (weekend, holiday) gets the regular 09:30-16:00 hours,
so a file "filed on a holiday" can be generated on purpose.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gex_pipeline.lib.calendar.sessions import session

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = dt.time(9, 30)
SESSION_CLOSE = dt.time(16, 0)


def parse_trade_date(value: str | dt.date) -> dt.date:
    """A trade date from `YYYY-MM-DD` (or a date); a ValueError names the field otherwise."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"trade_date: expected YYYY-MM-DD, got {value!r}") from exc


def session_bounds(trade_date: dt.date) -> tuple[int, int]:
    """Epoch seconds of the open and close of `trade_date`'s session (close is exclusive);
    09:30 and 16:00 New York time on a day that is not a session."""
    held = session(trade_date)
    if held is not None:
        return held.open_ms // 1000, held.close_ms // 1000
    open_at = dt.datetime.combine(trade_date, SESSION_OPEN, tzinfo=NEW_YORK)
    close_at = dt.datetime.combine(trade_date, SESSION_CLOSE, tzinfo=NEW_YORK)
    return int(open_at.timestamp()), int(close_at.timestamp())


def session_seconds(trade_date: dt.date) -> int:
    """Seconds in the session of `trade_date` (23,400; 12,600 on an early close)."""
    open_ts, close_ts = session_bounds(trade_date)
    return close_ts - open_ts
