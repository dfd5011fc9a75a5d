"""Timestamps from JSON values, as epoch milliseconds UTC.

Numbers (or numeric strings) are epoch seconds or milliseconds, told apart by magnitude:
below `MS_THRESHOLD` (1e11: 5138-11-16 in seconds, 1973-03-03 in ms) they are seconds, otherwise
milliseconds. Values of `US_THRESHOLD` (1e14) and above (microseconds, nanoseconds) are refused
rather than guessed. ISO-8601 strings must carry `Z` or an offset (a naive time is ambiguous).
The result must lie between 2000-01-01 and one day after `now_ms`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.numbers import NUMERIC_TEXT, to_float

MS_THRESHOLD = 100_000_000_000
US_THRESHOLD = 100_000_000_000_000
MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_AHEAD_MS = 86_400_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def to_epoch_ms(value: Any, field: str, now_ms: int) -> int:
    """Epoch milliseconds UTC of `value` (epoch s / ms number or string, or ISO-8601 with offset)."""
    if type(value) is str and not NUMERIC_TEXT.fullmatch(value):
        ms = _iso_to_ms(value, field)
    else:
        number = to_float(value, field)
        if abs(number) >= US_THRESHOLD:
            raise PayloadError(field, "is too large for epoch seconds or milliseconds")
        ms = round(number * 1000) if abs(number) < MS_THRESHOLD else round(number)
    if ms < MIN_MS:
        raise PayloadError(field, "is before 2000-01-01 (seconds read as milliseconds?)")
    if ms > now_ms + MAX_AHEAD_MS:
        raise PayloadError(field, "is more than one day in the future")
    return ms


def _iso_to_ms(text: str, field: str) -> int:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PayloadError(
            field, "is not epoch seconds/milliseconds nor an ISO-8601 time"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PayloadError(field, "ISO-8601 time must end with Z or a UTC offset")
    return (parsed - _EPOCH) // _ONE_MS
