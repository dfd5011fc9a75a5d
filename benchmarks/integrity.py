"""Integrity checks of one full day, and `validate` over a month of 3 feeds, against the bare
DuckDB gap query over the same data (issue 13: target within 3x).

1. One full generated day (23,400 snapshots x 100 strikes = 2.3 M strike rows, with defects),
   imported with the history import library and exported: every check of the partition (as the
   Dagster checks run it) against the bare gap query over the same partition of `gex_snapshots`.
2. A month of 3 feeds from Parquet (20 sessions of January 2026, 23,400 snapshots x `MONTH_STRIKES`
   strikes a feed-day; one generated day per feed, copied to the other sessions inside DuckDB and
   exported): `validate` (the table checks per feed-day, reading the files) against the bare gap
   query over the same snapshot files in one statement.
Prints best of `ROUNDS` wall times. Run: `python -m benchmarks integrity`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.machine import describe
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.calendar.sessions import sessions_between
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex import integrity
from gex_pipeline.lib.gex.feed_day import SLICE_SQL
from gex_pipeline.lib.gex.parquet_export import export_partition, parquet_path
from gex_pipeline.lib.gex.parquet_manifest import manifest_path
from gex_pipeline.lib.gex.partition_figures import strike_state
from gex_pipeline.lib.gex.snapshot_scan import read_snapshots
from gex_pipeline.lib.gex.validate import validate
from gex_pipeline.lib.history.day_import import import_day_file

if TYPE_CHECKING:
    import duckdb

DAY = date(2025, 11, 14)
FEED = ("SPX", "gex_zero")
STRIKES = 100
MONTH = (date(2026, 1, 2), date(2026, 1, 30))  # no DST switch, no early close
MONTH_STRIKES = 20
FEEDS = (("SPX", "gex_zero"), ("NDX", "gex_zero"), ("QQQ", "gex_one"))
ROUNDS = 3
DEFECTS = "gap,duplicate,spike,zero,out_of_session"
DAY_MS = 86_400_000
GAP_SQL = """
SELECT count(*) FROM (
    SELECT timestamp - lag(timestamp) OVER (PARTITION BY ticker, endpoint, trade_date
                                            ORDER BY timestamp) AS step
    FROM {source}
) WHERE step > 5000
"""


def _best(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _import(con: duckdb.DuckDBPyConnection, work: Path, feed: tuple[str, str], day: date,
            strikes: int, defects: str = "") -> int:  # fmt: skip
    made = make_day_file(
        work / "source", day, *feed, snapshots=None, strikes=strikes, defects=defects
    )
    stats = import_day_file(
        con, made.path, ticker=feed[0], endpoint=feed[1], trade_date=day,
        backups_dir=work / "backups",
    )  # fmt: skip
    return stats.strike_rows


def one_day(work: Path) -> None:
    """Every check of one full day against the bare gap query of the same partition."""
    with connect(work / "day.db") as con:
        migrate(con)
        started = time.perf_counter()
        rows = _import(con, work, FEED, DAY, STRIKES, DEFECTS)
        export_partition(con, work / "parquet-day", *FEED, DAY)
        print(f"one day: {rows:,} strike rows generated, imported, exported in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        day = integrity.FeedDay(DAY, *FEED)
        source = f"(SELECT * FROM gex_snapshots WHERE {SLICE_SQL})"
        base = _best(lambda: con.execute(GAP_SQL.format(source=source), day.params()).fetchall())
        strikes = f"(SELECT * FROM gex_strikes WHERE {SLICE_SQL})"
        rows_base = _best(
            lambda: con.execute(GAP_SQL.format(source=strikes), day.params()).fetchall()
        )
        print(f"\n{'one full day':<34} {'ms':>9} {'x gap query':>12}")
        _row("bare gap query (baseline)", base, base)
        _row("gap query over strike rows", rows_base, base)
        results = integrity.partition_checks(con, day, work / "parquet-day")
        recon = next(r for r in results if r.name == "parquet_reconciliation")
        used = (recon.details.get("duckdb_figures"), recon.details.get("parquet_figures"))
        if used != ("load-time", "export manifest"):
            raise SystemExit(f"refusing to print: the checks did not use the figures ({used})")
        # What partition_checks does, step by step: the shared reads, then each check.
        shared = integrity.read_shared(con, day)
        figures = shared.figures
        if figures is None:
            raise SystemExit("refusing to print: no load-time figures for the partition")
        reads = {
            "read the snapshots (shared)": lambda: read_snapshots(con, day.params()),
            "strike figures and span (shared)": lambda: strike_state(con, *FEED, DAY),
            "import rejects (shared)": lambda: integrity.read_rejects(con, day),
        }
        for label, read in reads.items():
            _row(f"  {label}", _best(read), base)
        for name, check in integrity.GEX_CHECKS.checks.items():
            if name != "parquet_reconciliation":
                _row(f"  {name}", _best(lambda c=check: c.run(shared)), base)
        root = work / "parquet-day"
        _row(
            "  parquet_reconciliation",
            _best(lambda: integrity.parquet_reconciliation(con, day, root, figures=figures)),
            base,
        )
        every = _best(lambda: integrity.partition_checks(con, day, root))
        _row("all checks (partition_checks)", every, base,
             f"  ({every / rows_base:.2f}x the gap query over the strike rows)")  # fmt: skip
        print("without the figures (every strike row and the file scanned):")
        _row(
            "  duplicate_rows, rows grouped",
            _best(lambda: integrity.duplicate_rows(con, day)),
            base,
        )
        _row(
            "  parquet_reconciliation, scanned",
            _best(lambda: _scanned_reconciliation(con, day, root)),
            base,
        )


def _scanned_reconciliation(
    con: duckdb.DuckDBPyConnection, day: integrity.FeedDay, root: Path
) -> integrity.IntegrityResult:
    """Reconciliation reading every row on both sides (the manifest moved aside meanwhile)."""
    manifest = manifest_path(parquet_path(root, day.ticker, day.endpoint, day.trade_date))
    aside = manifest.with_name(manifest.name + ".aside")
    manifest.rename(aside)
    try:
        result = integrity.parquet_reconciliation(con, day, root)
    finally:
        aside.rename(manifest)
    if result.details.get("parquet_figures") != "scanned":
        raise SystemExit("refusing to print: the scanned reconciliation used figures")
    return result


def _row(label: str, took: float, base: float, note: str = "") -> None:
    """One timing beside the baseline; refuses a figure it could not measure."""
    if not (took > 0 and base > 0):
        raise SystemExit(f"refusing to print {label}: not measured ({took!r} against {base!r})")
    print(f"{label:<34} {took * 1000:>9.1f} {took / base:>12.2f}{note}")


def _month(work: Path) -> tuple[Path, list[date]]:
    """Parquet files of `FEEDS` x the month's sessions (one generated day per feed, copied)."""
    days = [s.day for s in sessions_between(*MONTH)]
    root = work / "parquet-month"
    started = time.perf_counter()
    with connect(work / "month.db") as con:
        migrate(con)
        for feed in FEEDS:
            _import(con, work, feed, days[0], MONTH_STRIKES)
        for later in days[1:]:
            params = {"days": (later - days[0]).days, "d": days[0]}
            for table in ("gex_snapshots", "gex_strikes"):
                con.execute(
                    f"INSERT INTO {table} SELECT * REPLACE (timestamp + $days::BIGINT * {DAY_MS} AS"
                    " timestamp, trade_date + $days::INTEGER AS trade_date)"
                    f" FROM {table} WHERE trade_date = $d",
                    params,
                )
        for feed in FEEDS:
            for day in days:
                export_partition(con, root, *feed, day)
    print(f"\nmonth: {len(FEEDS)} feeds x {len(days)} sessions x 23,400 snapshots x "
          f"{MONTH_STRIKES} strikes prepared in {time.perf_counter() - started:.1f} s",
          flush=True)  # fmt: skip
    return root, days


def month_validate(work: Path) -> None:
    """`validate` over the month against one bare gap query over the same snapshot files."""
    import duckdb

    root, days = _month(work)
    glob = str(root / "*" / "*" / "*.snapshots.parquet")
    strike_glob = str(root / "*" / "*" / "*.strikes.parquet")
    feeds = [f"{t}.{e}" for t, e in FEEDS]
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        source = f"read_parquet('{glob}')"
        base = _best(lambda: con.execute(GAP_SQL.format(source=source)).fetchall())
        # strike files hold no trade_date: the file name partitions them
        strikes = f"(SELECT *, filename AS trade_date FROM read_parquet('{strike_glob}', filename = true))"
        rows_base = _best(lambda: con.execute(GAP_SQL.format(source=strikes)).fetchall())
    reports = list(validate(root, days[0], days[-1], feeds))
    feed_days = len(FEEDS) * len(days)
    if len([r for r in reports if r.results]) != feed_days:
        raise SystemExit(
            f"refusing to print: validate checked {len(reports)} of {feed_days} feed-days"
        )
    took = _best(lambda: list(validate(root, days[0], days[-1], feeds)))
    print(f"\n{'month from Parquet':<34} {'ms':>9} {'x gap query':>12}")
    _row("bare gap query (baseline)", base, base)
    _row("gap query over strike rows", rows_base, base)
    _row("validate (table checks)", took, base,
         f"  ({feed_days} feed-days, {took / feed_days * 1000:.1f} ms each;"
         f" {took / rows_base:.2f}x the gap query over the strike rows)")  # fmt: skip


def main() -> None:
    """Print the checks of one day and validate over a month against the bare gap query."""
    print(describe())
    with tempfile.TemporaryDirectory(prefix="gex-bench-integrity-") as tmp:
        one_day(Path(tmp))
        month_validate(Path(tmp))
