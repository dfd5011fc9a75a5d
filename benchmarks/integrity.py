"""Integrity checks over one full generated day and over ~20 days, against a raw count(*) scan.

Generates one full day (23,400 snapshots x 100 strikes = 2.3 M strike rows, with every defect
kind the checks look for), imports it with the history import library and exports its Parquet
file, then copies it to the next `DAYS - 1` dates inside DuckDB (timestamps shifted by whole
days) and exports those too. Prints, best of `ROUNDS`:
- per check, the time over the one day and the total over every day (one partition at a time,
  as the Dagster checks run);
- the raw baselines: `SELECT count(*)` of the same partition's strike rows (DuckDB answers it
  almost from metadata) and a scan hashing every exported column of them.
Run: `python -m benchmarks integrity`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.machine import describe
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib import integrity
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_import import import_day_file

if TYPE_CHECKING:
    import duckdb

TRADE_DATE = date(2025, 11, 3)
TICKER, ENDPOINT = "SPX", "gex_zero"
STRIKES = 100
DAYS = 20
ROUNDS = 3
DEFECTS = "gap,duplicate,spike,zero,out_of_session"
DAY_MS = 86_400_000

Check = Callable[["duckdb.DuckDBPyConnection", integrity.FeedDay], object]


def _copy_day(con: duckdb.DuckDBPyConnection, offset: int) -> None:
    """Copy the first day's rows to the day `offset` days later (timestamps shifted)."""
    params = {"days": offset, "ms": offset * DAY_MS, "d": TRADE_DATE}
    for table in ("gex_snapshots", "gex_strikes"):
        con.execute(
            f"INSERT INTO {table} SELECT * REPLACE (timestamp + $ms AS timestamp,"
            f" trade_date + $days::INTEGER AS trade_date) FROM {table} WHERE trade_date = $d",
            params,
        )


def _best(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _checks(parquet_root: Path) -> dict[str, Check]:
    return {
        "timestamp_gaps": integrity.timestamp_gaps,
        "duplicate_rows": integrity.duplicate_rows,
        "spot_spikes": integrity.spot_spikes,
        "zero_snapshots": integrity.zero_snapshots,
        "out_of_session_rows": integrity.out_of_session_rows,
        "trade_date_mismatch": integrity.trade_date_mismatch,
        "parquet_reconciliation": lambda con, day: integrity.parquet_reconciliation(
            con, day, parquet_root
        ),
    }


_SLICE = "ticker = $ticker AND endpoint = $endpoint AND trade_date = $trade_date"


def _count(con: duckdb.DuckDBPyConnection, day: integrity.FeedDay) -> int:
    """The brief's baseline: count(*) of the partition's strike rows."""
    return int(
        con.execute(f"SELECT count(*) FROM gex_strikes WHERE {_SLICE}", day.params()).fetchall()[0][
            0
        ]
    )


def _scan(con: duckdb.DuckDBPyConnection, day: integrity.FeedDay) -> object:
    """A scan that reads every exported column (the floor of the reconciliation)."""
    return con.execute(
        f"SELECT sum(hash(timestamp, strike, gamma, oi_gamma, priors)::HUGEINT) FROM gex_strikes"
        f" WHERE {_SLICE}",
        day.params(),
    ).fetchall()


def _prepare(work: Path) -> tuple[Path, Path, int]:
    """The DuckDB file and Parquet root holding `DAYS` days; the strike rows of one day."""
    started = time.perf_counter()
    day_file = make_day_file(
        work / "source",
        TRADE_DATE,
        TICKER,
        ENDPOINT,
        snapshots=None,
        strikes=STRIKES,
        defects=DEFECTS,
    )
    print(f"generated {day_file.path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    db, parquet_root = work / "gex.db", work / "parquet"
    with connect(db) as con:
        migrate(con)
        started = time.perf_counter()
        stats = import_day_file(
            con,
            day_file.path,
            ticker=TICKER,
            endpoint=ENDPOINT,
            trade_date=TRADE_DATE,
            backups_dir=work / "backups",
        )
        print(
            f"imported {stats.strike_rows:,} strike rows in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        started = time.perf_counter()
        for offset in range(1, DAYS):
            _copy_day(con, offset)
        for offset in range(DAYS):
            export_partition(con, parquet_root, TICKER, ENDPOINT, TRADE_DATE + timedelta(offset))
        print(
            f"copied and exported {DAYS} days in {time.perf_counter() - started:.1f} s", flush=True
        )
    return db, parquet_root, stats.strike_rows


def main() -> None:
    """Print the time of each check over one day and over every day, against count(*)."""
    print(describe())
    with tempfile.TemporaryDirectory(prefix="gex-bench-integrity-") as tmp:
        db, parquet_root, rows = _prepare(Path(tmp))
        days = [integrity.FeedDay(TRADE_DATE + timedelta(k), TICKER, ENDPOINT) for k in range(DAYS)]
        with connect(db, read_only=True) as con:
            print(
                f"\n{'check':<24} {'1 day (ms)':>11} {f'{DAYS} days (s)':>12}"
                f"  ({rows:,} strike rows a day)"
            )
            baseline = _best(lambda: _count(con, days[0]))
            all_days = _best(lambda: [_count(con, d) for d in days])
            print(f"{'count(*) baseline':<24} {baseline * 1000:>11.1f} {all_days:>12.2f}")
            scan_one = _best(lambda: _scan(con, days[0]))
            scan_all = _best(lambda: [_scan(con, d) for d in days])
            print(f"{'full-row hash scan':<24} {scan_one * 1000:>11.1f} {scan_all:>12.2f}")
            total_one = total_all = 0.0
            for name, check in _checks(parquet_root).items():
                one = _best(lambda check=check: check(con, days[0]))
                every = _best(lambda check=check: [check(con, d) for d in days])
                total_one, total_all = total_one + one, total_all + every
                print(f"{name:<24} {one * 1000:>11.1f} {every:>12.2f}")
            print(
                f"{'all checks':<24} {total_one * 1000:>11.1f} {total_all:>12.2f}"
                f"  ({total_one / scan_one:.1f}x the full-row scan per partition)"
            )
            failed = [
                r.name
                for r in integrity.partition_checks(con, days[0], parquet_root)
                if not r.passed
            ]
            print(f"flagged on the defect day: {', '.join(failed)}")
