"""Partitions of the pipeline's tables: NYSE trading sessions (x feed `TICKER.endpoint` for GEX).

The date dimension holds America/New_York dates that are NYSE sessions (`lib/calendar/sessions.py`,
exchange-calendars XNYS): a weekday cron (`0 0 * * 1-5`) with the calendar's full-holiday weekdays
excluded. Early-close days are sessions. Keys stay `YYYY-MM-DD` (GEX: `YYYY-MM-DD|TICKER.endpoint`),
so every weekday key that existed before is still a key; weekend and holiday keys are not.

Whoever reports materializations for these keys (the live loader, the assets) builds them with
`gex_partition_key` / `session_date_key` here and skips dates `is_partition_date` refuses.
"""

from __future__ import annotations

from datetime import date, datetime, time

import dagster as dg

from gex_pipeline.lib.calendar.sessions import (
    SESSIONS_START,
    is_session,
    last_calendar_day,
    weekday_closures,
)
from gex_pipeline.lib.calendar.trading_date import (
    TRADING_TZ_NAME,
    date_key,
    feed_key,
    parse_feed_key,
)

DATE_DIMENSION = "date"
FEED_DIMENSION = "feed"
FEED_PARTITIONS_NAME = "feed"
PARTITIONS_START_DATE = SESSIONS_START.isoformat()
SESSION_CRON = "0 0 * * 1-5"
DATE_FORMAT = "%Y-%m-%d"


def session_partitions_def() -> dg.TimeWindowPartitionsDefinition:
    """NYSE sessions from `SESSIONS_START` to today (New York), one partition per session.

    `end_offset=1` keeps today's session (or the last one, on a weekend or holiday) a partition
    while it is still trading.
    """
    holidays = weekday_closures(SESSIONS_START, last_calendar_day())
    return dg.TimeWindowPartitionsDefinition(
        start=PARTITIONS_START_DATE,
        fmt=DATE_FORMAT,
        cron_schedule=SESSION_CRON,
        timezone=TRADING_TZ_NAME,
        end_offset=1,
        exclusions=[datetime.combine(day, time()) for day in holidays],
    )


trading_date_partitions = session_partitions_def()
feed_partitions = dg.DynamicPartitionsDefinition(name=FEED_PARTITIONS_NAME)
gex_partitions = dg.MultiPartitionsDefinition(
    {DATE_DIMENSION: trading_date_partitions, FEED_DIMENSION: feed_partitions}
)


def is_partition_date(day: date) -> bool:
    """True when `day` is a date partition: an NYSE session not after today's partitions."""
    return is_session(day) and trading_date_partitions.has_partition_key(date_key(day))


def session_date_key(day: date) -> str:
    """The date partition key of `day`; ValueError naming the date when it is not a session."""
    if not is_session(day):
        raise ValueError(
            f"trade date {day.isoformat()} is not an NYSE session (weekend or holiday)"
        )
    return date_key(day)


def gex_partition_key(trade_date: date, ticker: str, endpoint: str) -> dg.MultiPartitionKey:
    """The date x feed partition key of one feed-day (`str()` gives `YYYY-MM-DD|TICKER.endpoint`)."""
    return dg.MultiPartitionKey(
        {DATE_DIMENSION: date_key(trade_date), FEED_DIMENSION: feed_key(ticker, endpoint)}
    )


def parse_gex_partition_key(key: str | dg.MultiPartitionKey) -> tuple[date, str, str]:
    """`(trade_date, ticker, endpoint)` of a date x feed partition key such as `2025-11-14|SPX.gex_zero`."""
    dims = key.keys_by_dimension if isinstance(key, dg.MultiPartitionKey) else None
    if dims is None:
        day, sep, feed = str(key).partition("|")
        if not sep:
            raise ValueError(
                f"partition key must look like YYYY-MM-DD|TICKER.endpoint, got {key!r}"
            )
    else:
        day, feed = dims[DATE_DIMENSION], dims[FEED_DIMENSION]
    ticker, endpoint = parse_feed_key(feed)
    try:
        trade_date = date.fromisoformat(day)
    except ValueError as exc:
        raise ValueError(f"partition date must be YYYY-MM-DD, got {day!r}") from exc
    return trade_date, ticker, endpoint
