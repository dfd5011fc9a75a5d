"""The two table formats considered for the lake (issue 17), on the lake's own operations.

Delta Lake (`deltalake`, delta-rs: the chosen format) and Apache Iceberg (`pyiceberg` with a SQL
catalog on SQLite), each holding the same strike rows of `DAYS` feed-days partitioned by
(trade_date, feed), measured in the same run:
- replace one feed-day (an import: delete the partition's rows and add the new ones in one commit);
- a small append (a live mirror pass: 10 snapshots x 100 strikes);
- read one feed-day into DuckDB (what the checks and the export do);
- a whole-range aggregate over every partition with DuckDB;
- read one feed-day as of the version before the last replace (time travel: `restore`);
- two processes appending to the same table at once (what several writers do): commits lost.
`pyiceberg` is installed by `make bench` (the `bench` extra); without it the Iceberg column says
so and prints no figure. Run: `python -m benchmarks formats`.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from benchmarks.machine import describe

DAYS = 6
ROWS_PER_DAY = 585_000
APPENDS = 30
APPEND_ROWS = 1_000
CONCURRENT_COMMITS = 40


def _day_rows(day: date, feed: str, rows: int, seed: int):  # type: ignore[no-untyped-def]
    import duckdb

    with duckdb.connect() as con:
        return con.sql(
            f"""
            SELECT 1763130600000 + (i // 100) * 4000 AS timestamp, 'SPX' AS ticker,
                   'gex_zero' AS endpoint, 6500 + (i % 100) * 5.0 AS strike,
                   (hash(i, {seed}) % 100000) / 1000.0 AS gamma,
                   (hash(i, {seed} + 1) % 100000) / 1000.0 AS oi_gamma,
                   [(hash(i, {seed} + 2) % 1000) / 10.0, 1.0, 2.0, 3.0, 4.0] AS priors,
                   DATE '{day.isoformat()}' AS trade_date, '{feed}' AS feed
            FROM range({rows}) t(i)
            """
        ).to_arrow_table()


def _timed(fn: Callable[[], object], rounds: int = 1) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


class DeltaFormat:
    """The lake's operations on a Delta table (deltalake)."""

    name = "Delta Lake (deltalake)"

    def __init__(self, root: Path) -> None:
        self.uri = str(root / "delta")

    def replace(self, data, day: date) -> None:  # type: ignore[no-untyped-def]
        from deltalake import write_deltalake

        write_deltalake(
            self.uri,
            data,
            mode="overwrite",
            predicate=f"trade_date = '{day.isoformat()}' AND feed = 'SPX.gex_zero'",
            partition_by=["trade_date", "feed"],
        )

    def append(self, data) -> None:  # type: ignore[no-untyped-def]
        from deltalake import write_deltalake

        write_deltalake(self.uri, data, mode="append", partition_by=["trade_date", "feed"])

    def version(self) -> int:
        from deltalake import DeltaTable

        return DeltaTable(self.uri).version()

    def read_day(self, con, day: date, version: int | None = None) -> int:  # type: ignore[no-untyped-def]
        from deltalake import DeltaTable

        table = DeltaTable(self.uri, version=version)
        files = table.file_uris(file_pruning_predicate=[("trade_date", "=", day.isoformat())])
        listed = ", ".join(f"'{f}'" for f in files)
        return con.sql(
            f"SELECT count(*), sum(gamma) FROM read_parquet([{listed}], hive_partitioning = true)"
        ).fetchall()[0][0]

    def aggregate(self, con) -> int:  # type: ignore[no-untyped-def]
        from deltalake import DeltaTable

        listed = ", ".join(f"'{f}'" for f in DeltaTable(self.uri).file_uris())
        return con.sql(
            f"SELECT count(*), avg(gamma) FROM read_parquet([{listed}], hive_partitioning = true)"
        ).fetchall()[0][0]


class IcebergFormat:
    """The same operations on an Iceberg table (pyiceberg, SQL catalog on SQLite)."""

    name = "Iceberg (pyiceberg)"

    def __init__(self, root: Path) -> None:
        self.root = root / "iceberg"
        self.root.mkdir(parents=True, exist_ok=True)

    def _catalog(self):  # type: ignore[no-untyped-def]
        from pyiceberg.catalog.sql import SqlCatalog

        return SqlCatalog(
            "bench", uri=f"sqlite:///{self.root}/catalog.db", warehouse=f"file://{self.root}"
        )

    def table(self, schema=None):  # type: ignore[no-untyped-def]
        catalog = self._catalog()
        if schema is not None and not catalog.table_exists("gex.strikes"):
            from pyiceberg.transforms import IdentityTransform

            catalog.create_namespace_if_not_exists("gex")
            table = catalog.create_table("gex.strikes", schema=schema)
            with table.update_spec() as spec:
                spec.add_field("trade_date", IdentityTransform(), "trade_date")
                spec.add_field("feed", IdentityTransform(), "feed")
        return catalog.load_table("gex.strikes")

    def replace(self, data, day: date) -> None:  # type: ignore[no-untyped-def]
        from pyiceberg.expressions import And, EqualTo

        table = self.table(data.schema)
        table.overwrite(
            data,
            overwrite_filter=And(
                EqualTo("trade_date", day.isoformat()), EqualTo("feed", "SPX.gex_zero")
            ),
        )

    def append(self, data) -> None:  # type: ignore[no-untyped-def]
        self.table(data.schema).append(data)

    def version(self) -> int:
        snapshot = self.table().current_snapshot()
        return snapshot.snapshot_id if snapshot else -1

    def read_day(self, con, day: date, version: int | None = None) -> int:  # type: ignore[no-untyped-def]
        from pyiceberg.expressions import EqualTo

        scan = self.table().scan(
            row_filter=EqualTo("trade_date", day.isoformat()), snapshot_id=version
        )
        con.register("day_rows", scan.to_arrow())
        return con.sql("SELECT count(*), sum(gamma) FROM day_rows").fetchall()[0][0]

    def aggregate(self, con) -> int:  # type: ignore[no-untyped-def]
        con.register("all_rows", self.table().scan().to_arrow_batch_reader())
        return con.sql("SELECT count(*), avg(gamma) FROM all_rows").fetchall()[0][0]


def _concurrent_appender(kind: str, root: str, seed: int, out) -> None:  # type: ignore[no-untyped-def]
    fmt = DeltaFormat(Path(root)) if kind == "delta" else IcebergFormat(Path(root))
    data = _day_rows(date(2025, 1, 2), "SPX.gex_zero", 10, seed)
    failed = 0
    for _ in range(CONCURRENT_COMMITS // 2):
        try:
            fmt.append(data)
        except Exception:
            failed += 1
    out.put(failed)


def measure(fmt, kind: str, root: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import duckdb

    days = [date(2025, 11, 3) + timedelta(days=i) for i in range(DAYS)]
    for n, day in enumerate(days):
        fmt.replace(_day_rows(day, "SPX.gex_zero", ROWS_PER_DAY, n), day)
    before = fmt.version()
    data = _day_rows(days[0], "SPX.gex_zero", ROWS_PER_DAY, 99)
    out: dict[str, float] = {"replace one feed-day": _timed(lambda: fmt.replace(data, days[0]))}
    small = _day_rows(days[-1] + timedelta(days=1), "SPX.gex_zero", APPEND_ROWS, 7)
    times = []
    for _ in range(APPENDS):
        started = time.perf_counter()
        fmt.append(small)
        times.append(time.perf_counter() - started)
    out["small append (median)"] = statistics.median(times)
    with duckdb.connect() as con:
        out["read one feed-day into DuckDB"] = _timed(lambda: fmt.read_day(con, days[1]), 3)
        out["whole-range aggregate"] = _timed(lambda: fmt.aggregate(con), 3)
        out["time travel read of a feed-day"] = _timed(
            lambda: fmt.read_day(con, days[0], before), 3
        )
    queue = multiprocessing.get_context("spawn").Queue()
    procs = [
        multiprocessing.get_context("spawn").Process(
            target=_concurrent_appender, args=(kind, str(root), s, queue)
        )
        for s in (1, 2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(600)
    out["concurrent commits failed (of 40)"] = float(sum(queue.get() for _ in procs))
    return out


def main() -> None:
    """Measure both formats on the same rows and print them side by side."""
    print(describe())
    try:
        import pyiceberg  # noqa: F401
    except ImportError:
        pyiceberg_ok = False
    else:
        pyiceberg_ok = True
    with tempfile.TemporaryDirectory(prefix="gex-bench-formats-") as tmp:
        root = Path(tmp)
        delta = measure(DeltaFormat(root), "delta", root)
        iceberg = measure(IcebergFormat(root), "iceberg", root) if pyiceberg_ok else None
    print(f"{DAYS} feed-days of {ROWS_PER_DAY} strike rows, partitioned by (trade_date, feed)")
    print(f"{'operation':<38}{'Delta Lake':>14}{'Iceberg':>14}")
    for key, value in delta.items():
        other = "not installed" if iceberg is None else f"{iceberg[key]:.3f}"
        print(f"{key:<38}{value:>14.3f}{other:>14}")
    print("(seconds, except the failed commits)")


if __name__ == "__main__":
    main()
