"""Regular trading session of a day in America/New_York, as epoch seconds (DST-correct)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

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
    """Epoch seconds of 09:30 and 16:00 New York time on `trade_date` (close is exclusive)."""
    open_at = dt.datetime.combine(trade_date, SESSION_OPEN, tzinfo=NEW_YORK)
    close_at = dt.datetime.combine(trade_date, SESSION_CLOSE, tzinfo=NEW_YORK)
    return int(open_at.timestamp()), int(close_at.timestamp())


def session_seconds(trade_date: dt.date) -> int:
    """Number of 1 Hz snapshots in the regular session of `trade_date` (23,400)."""
    open_ts, close_ts = session_bounds(trade_date)
    return close_ts - open_ts
