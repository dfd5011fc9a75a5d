"""Check stored GEX data outside Dagster, from the exported Parquet files (never `gex_data.db`).

For each feed, the `<YYYYMMDD>.snapshots.parquet` files of the range are read in one query (each
feed-day's rows once, for every snapshot-level check), and each feed-day's
`<YYYYMMDD>.strikes.parquet` is opened in an in-memory DuckDB as the view `gex_strikes`; the same
check functions run over them (`TABLE_CHECKS`: the checks that need only those rows). The strike
rows are grouped for duplicates, and their dates read, only when the file's export manifest
(`parquet_manifest`) is missing or stale, or records a duplicate or a row outside the day. Days
that are not sessions but hold a file are checked too (and fail `out_of_session_rows`). Reading
Parquet works while the pipeline runs.

Coverage of each feed-day: `present` (checked, session covered), `incomplete` (session_coverage
failed), `missing` (a session without a file), `not_a_session` (a file on a weekend or holiday).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.sessions import sessions_between
from gex_pipeline.lib.calendar.trading_date import ENDPOINTS, feed_key, parse_feed_key
from gex_pipeline.lib.checks.reports import MISSING, PRESENT, CheckedDay, file_days, file_reader
from gex_pipeline.lib.gex.integrity import (
    TABLE_CHECKS,
    FeedDay,
    IntegrityResult,
    PartitionContext,
    Thresholds,
    new_york_day_ms,
)
from gex_pipeline.lib.gex.parquet_export import parquet_path, snapshots_path
from gex_pipeline.lib.gex.parquet_manifest import file_state
from gex_pipeline.lib.gex.partition_figures import StrikeState
from gex_pipeline.lib.gex.snapshot_scan import Snapshots, read_snapshot_files

if TYPE_CHECKING:
    import duckdb

INCOMPLETE, NOT_A_SESSION = "incomplete", "not_a_session"
# Strike columns the checks read (priors are not needed and cost the most to read).
_STRIKE_COLUMNS = "ticker, endpoint, timestamp, strike, gamma, oi_gamma"
_DEFAULTS = Thresholds()


@dataclass(frozen=True)
class DayReport(CheckedDay):
    """The verdicts and the coverage status of one feed-day."""

    day: FeedDay
    status: str
    results: tuple[IntegrityResult, ...] = ()

    @property
    def feed(self) -> str:
        """`TICKER.endpoint`."""
        return feed_key(self.day.ticker, self.day.endpoint)

    @property
    def trade_date(self) -> date:
        """The feed-day's date."""
        return self.day.trade_date


def discover_feeds(parquet_root: Path) -> list[str]:
    """Feeds with at least one exported file under `parquet_root` (`TICKER.endpoint`), sorted."""
    feeds = []
    if parquet_root.is_dir():
        for ticker_dir in sorted(p for p in parquet_root.iterdir() if p.is_dir()):
            for endpoint in ENDPOINTS:
                folder = ticker_dir / endpoint
                if folder.is_dir() and any(folder.glob("*.snapshots.parquet")):
                    feeds.append(feed_key(ticker_dir.name, endpoint))
    return feeds


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _load_day(
    con: duckdb.DuckDBPyConnection, parquet_root: Path, day: FeedDay, snaps: Snapshots
) -> StrikeState | None:
    """The strikes file's export figures and span while it is the file the export wrote; the
    view `gex_strikes` points at the file when a check will read it (no usable manifest, zero-sum
    snapshots to look at, or a duplicate or a row outside the day to locate). Otherwise the view
    is dropped: a check that reads it anyway fails loudly instead of reading another day."""
    strikes = parquet_path(parquet_root, day.ticker, day.endpoint, day.trade_date)
    exported = file_state(strikes) if strikes.exists() else None
    if not _reads_strikes(exported, snaps, day):
        con.execute("DROP VIEW IF EXISTS gex_strikes")
        return exported
    source = (
        f"read_parquet('{_quote(strikes)}')"
        if strikes.exists()
        else "(SELECT NULL::VARCHAR AS ticker, NULL::VARCHAR AS endpoint, NULL::BIGINT AS timestamp,"
        " NULL::DOUBLE AS strike, NULL::DOUBLE AS gamma, NULL::DOUBLE AS oi_gamma WHERE false)"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW gex_strikes AS SELECT {_STRIKE_COLUMNS},"
        f" DATE '{day.trade_date.isoformat()}' AS trade_date FROM {source}"
    )
    return exported


def _reads_strikes(exported: StrikeState | None, snaps: Snapshots, day: FeedDay) -> bool:
    """Whether a table check will read the strike rows of `day`: the export manifest stands for
    them unless it is missing or records a duplicate or a row outside the day."""
    if exported is None or exported.figures is None or snaps.zero_sums.any():
        return True
    if exported.figures.key_duplicates or exported.first_timestamp is None:
        return True
    start_ms, end_ms = new_york_day_ms(day.trade_date)
    assert exported.last_timestamp is not None
    return exported.first_timestamp < start_ms or exported.last_timestamp >= end_ms


def validate(
    parquet_root: Path,
    start: date,
    end: date,
    feeds: Collection[str] | None = None,
    limits: Thresholds = _DEFAULTS,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Iterator[DayReport]:
    """Check every feed-day from `start` to `end` (sessions, plus other days holding a file).

    `feeds` defaults to every feed with an exported file. A feed key that is not `TICKER.endpoint`
    raises ValueError naming it.
    """
    chosen = sorted(feeds) if feeds is not None else discover_feeds(parquet_root)
    parsed = [parse_feed_key(feed) for feed in chosen]
    sessions = {s.day for s in sessions_between(start, end)}
    with file_reader(con) as con:
        for ticker, endpoint in parsed:
            folder = parquet_root / ticker / endpoint
            with_files = file_days(folder, "*.snapshots.parquet", start, end)
            files = {d: snapshots_path(parquet_root, ticker, endpoint, d) for d in with_files}
            snapshots = read_snapshot_files(con, files, ticker, endpoint)
            for trade_date in sorted(sessions | with_files):
                day = FeedDay(trade_date, ticker, endpoint)
                if trade_date not in with_files:
                    yield DayReport(day, MISSING)
                    continue
                snaps = snapshots[trade_date]
                exported = _load_day(con, parquet_root, day, snaps)
                context = PartitionContext(con, day, limits, snaps=snaps, strikes=exported)
                results = tuple(check.run(context) for check in TABLE_CHECKS.values())
                coverage = next(r for r in results if r.name == "session_coverage")
                if trade_date not in sessions:
                    status = NOT_A_SESSION
                else:
                    status = PRESENT if coverage.passed else INCOMPLETE
                yield DayReport(day, status, results)
