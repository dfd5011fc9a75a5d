"""Check exported option trades outside Dagster, from `<uw_root>/option_trades/<YYYYMMDD>.parquet`.

Each day's file is opened as a view in an in-memory DuckDB and the daily checks of
`gex_pipeline.lib.webhooks.integrity` run over it (a file can hold what the database's primary key
refuses, so `unique_trade_ids` is meaningful here). Sessions without a file are `missing`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from gex_pipeline.lib.calendar.sessions import sessions_between
from gex_pipeline.lib.checks.registry import IntegrityResult
from gex_pipeline.lib.checks.reports import MISSING, PRESENT, CheckedDay, file_days, file_reader
from gex_pipeline.lib.webhooks.integrity import day_checks
from gex_pipeline.lib.webhooks.parquet_export import option_trades_path

if TYPE_CHECKING:
    import duckdb

_VIEW = "option_trades_file"


@dataclass(frozen=True)
class TradeDayReport(CheckedDay):
    """The verdicts of one day of option trades (`missing`: a session without a file)."""

    trade_date: date
    status: str
    results: tuple[IntegrityResult, ...] = ()
    feed: ClassVar[str] = "option_trades"


def validate_option_trades(
    uw_root: Path, start: date, end: date, con: duckdb.DuckDBPyConnection | None = None
) -> Iterator[TradeDayReport]:
    """Check every day of option trades from `start` to `end` that is a session or has a file."""
    with_files = file_days(uw_root / "option_trades", "*.parquet", start, end)
    if not with_files:
        return
    sessions = {s.day for s in sessions_between(start, end)}
    with file_reader(con) as con:
        for day in sorted(sessions | with_files):
            if day not in with_files:
                yield TradeDayReport(day, MISSING)
                continue
            path = str(option_trades_path(uw_root, day)).replace("'", "''")
            con.execute(f"CREATE OR REPLACE VIEW {_VIEW} AS SELECT * FROM read_parquet('{path}')")
            yield TradeDayReport(day, PRESENT, tuple(day_checks(con, day, table=_VIEW)))
