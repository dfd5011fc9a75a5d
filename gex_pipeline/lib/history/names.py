"""Names of GEXBot historical day files: `YYYY-MM-DD_<TICKER>_classic_<endpoint>.json[.gz]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote

from gex_pipeline.lib.payloads.gex import ENDPOINTS

# The ticker may hold underscores (NQ_NDX, ES_SPX); "_classic_" and the closed endpoint set anchor it.
_ENDPOINT_ALTERNATIVES = "|".join(sorted(ENDPOINTS))
_DAY_FILE = re.compile(
    r"(\d{4}-\d{2}-\d{2})_([A-Z0-9](?:[A-Z0-9_]{0,14}[A-Z0-9])?)_classic_("
    + _ENDPOINT_ALTERNATIVES
    + r")\.json(\.gz)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DayFileName:
    """What a day-file name says: trading date, feed (ticker, endpoint) and gzip suffix."""

    trade_date: date
    ticker: str
    endpoint: str
    compressed: bool


def parse_day_file_name(name: str) -> DayFileName | None:
    """Parse a day-file name (percent-escapes decoded); None when it does not follow the pattern."""
    match = _DAY_FILE.fullmatch(unquote(name))
    if match is None:
        return None
    day, ticker, endpoint, gz = match.groups()
    try:
        trade_date = date.fromisoformat(day)
    except ValueError:
        return None
    return DayFileName(trade_date, ticker.upper(), endpoint.lower(), gz is not None)
