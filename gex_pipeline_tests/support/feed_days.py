"""A whole exported feed-day with a known gap and a known spot spike, for the chart tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import export_partition

OPEN_MS = 1_763_130_600_000  # 2025-11-14 09:30 America/New_York
SESSION_SECONDS = 23_400


@dataclass(frozen=True)
class ExportedDay:
    """What `export_day` wrote: the feed-day, its gap (seconds after the open) and its spike."""

    ticker: str
    endpoint: str
    trade_date: date
    gap: tuple[int, int]  # first and last missing second
    spike: int  # second of the spike

    def ms(self, second: int) -> int:
        return OPEN_MS + second * 1000


def export_day(
    data_dir: Path, gap: tuple[int, int] = (3_600, 3_719), spike: int = 9_000
) -> ExportedDay:
    """Load a 1 Hz session of SPX.gex_zero (3 strikes a snapshot) without the seconds of `gap`
    and with spot 3 % up for the one snapshot at `spike`, and export it to Parquet."""
    day = ExportedDay("SPX", "gex_zero", date(2025, 11, 14), gap, spike)
    params = {
        "ticker": day.ticker, "endpoint": day.endpoint, "trade_date": day.trade_date,
        "open": OPEN_MS, "n": SESSION_SECONDS, "g0": gap[0], "g1": gap[1], "spike": spike,
    }  # fmt: skip
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        con.execute(
            """
            INSERT INTO gex_snapshots (ticker, endpoint, timestamp, trade_date, spot, zero_gamma,
                                       sum_gex_vol, sum_gex_oi, strike_count, source, ingested_at)
            SELECT $ticker, $endpoint, $open + i * 1000, $trade_date,
                   (6700 + 5 * sin(i / 900)) * CASE WHEN i = $spike THEN 1.03 ELSE 1 END,
                   6650 + 8 * cos(i / 1200), 1.5e6 * sin(i / 3000), 5e4 * cos(i / 2000), 3,
                   'test', now()
            FROM range($n) r(i) WHERE i NOT BETWEEN $g0 AND $g1
            """,
            params,
        )
        con.execute(
            """
            INSERT INTO gex_strikes
            SELECT ticker, endpoint, timestamp, trade_date, 6600 + 50 * k, sin(k), cos(k), [1.0]
            FROM gex_snapshots CROSS JOIN range(3) s(k)
            """
        )
        export_partition(
            con, data_dir / "parquet" / "gexbot", day.ticker, day.endpoint, day.trade_date
        )
    return day
