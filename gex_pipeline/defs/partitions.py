"""Partitions of GEX data: America/New_York trading date x feed (`TICKER.endpoint`)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from gex_pipeline.lib.calendar.trading_date import (
    TRADING_TZ_NAME,
    date_key,
    feed_key,
    parse_feed_key,
)

DATE_DIMENSION = "date"
FEED_DIMENSION = "feed"
FEED_PARTITIONS_NAME = "feed"
PARTITIONS_START_DATE = "2022-01-01"

trading_date_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START_DATE, timezone=TRADING_TZ_NAME, end_offset=1
)
feed_partitions = dg.DynamicPartitionsDefinition(name=FEED_PARTITIONS_NAME)
gex_partitions = dg.MultiPartitionsDefinition(
    {DATE_DIMENSION: trading_date_partitions, FEED_DIMENSION: feed_partitions}
)


def gex_partition_key(trade_date: date, ticker: str, endpoint: str) -> dg.MultiPartitionKey:
    """The date x feed partition key of one feed-day."""
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
