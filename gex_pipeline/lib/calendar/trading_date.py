"""Trading dates (America/New_York) and feed partition keys (`TICKER.endpoint`).

A snapshot belongs to the New York calendar date of its timestamp: 20:30 ET on 14 Nov is
01:30 UTC on 15 Nov, and still belongs to 14 Nov. Timestamps are epoch milliseconds UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TRADING_TZ_NAME = "America/New_York"
TRADING_TZ = ZoneInfo(TRADING_TZ_NAME)
ENDPOINTS: tuple[str, ...] = ("gex_zero", "gex_one", "gex_full")

_TICKER_RE = re.compile(r"^[A-Z0-9_]{1,16}$")


def trading_date_of(epoch_ms: int) -> date:
    """The America/New_York date of the instant `epoch_ms` (milliseconds since the epoch, UTC)."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(TRADING_TZ).date()


def trade_date_sql(column: str = "timestamp") -> str:
    """DuckDB expression giving the trading date of an epoch-ms column (agrees with `trading_date_of`)."""
    return f"(to_timestamp({column} / 1000) AT TIME ZONE '{TRADING_TZ_NAME}')::DATE"


def feed_key(ticker: str, endpoint: str) -> str:
    """Dynamic partition key of a feed, e.g. `feed_key("NQ_NDX", "gex_zero") == "NQ_NDX.gex_zero"`."""
    if not _TICKER_RE.match(ticker):
        raise ValueError(f"ticker must match [A-Z0-9_]{{1,16}}, got {ticker!r}")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
    return f"{ticker}.{endpoint}"


def parse_feed_key(key: str) -> tuple[str, str]:
    """Split a feed key into `(ticker, endpoint)`; raise ValueError naming the key when malformed."""
    ticker, sep, endpoint = key.partition(".")
    if not sep:
        raise ValueError(f"feed key must look like TICKER.endpoint, got {key!r}")
    feed_key(ticker, endpoint)
    return ticker, endpoint


def date_key(day: date) -> str:
    """Partition key of a trading date (`YYYY-MM-DD`)."""
    return day.isoformat()
