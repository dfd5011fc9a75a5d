"""One date x feed slice (trading date, ticker, endpoint) of the GEX tables, as one value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gex_pipeline.lib.calendar.sessions import session
from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.lake.tables import Partition

# The rows of a slice, with the parameters `FeedDay.params` gives.
SLICE_SQL = "ticker = $ticker AND endpoint = $endpoint AND trade_date = $trade_date"


@dataclass(frozen=True)
class FeedDay:
    """One date x feed partition."""

    trade_date: date
    ticker: str
    endpoint: str

    @property
    def partition(self) -> Partition:
        """The lake partition of this feed-day."""
        return Partition(self.trade_date, feed_key(self.ticker, self.endpoint))

    def params(self) -> dict[str, object]:
        """SQL parameters `$ticker`, `$endpoint`, `$trade_date`."""
        return {"ticker": self.ticker, "endpoint": self.endpoint, "trade_date": self.trade_date}

    def window(self) -> tuple[int, int] | None:
        """(open, close) epoch ms of the partition's session; None when it is not a session."""
        held = session(self.trade_date)
        return None if held is None else (held.open_ms, held.close_ms)

    def __str__(self) -> str:
        return f"{self.ticker} {self.endpoint} {self.trade_date.isoformat()}"
