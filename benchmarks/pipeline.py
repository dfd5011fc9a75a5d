"""Pipeline throughput: staging -> DuckDB load and Parquet export.

1. Load rate (strike rows/s) of `load_segments` against the raw DuckDB `read_json` + `UNNEST`
   statement on the same segment files, in the same run (target >= 70 % of it).
2. Export rate of `export_partition` for one feed-day against a raw DuckDB `COPY` and a polars
   `write_parquet` of the same rows, and the cost of the day chart each `gex_parquet`
   materialization carries (`lib/gex/day_chart.py`) against that export, in a fresh process (as a
   run pays it, matplotlib's import included) and warm.
(The cost of live loading on the running stack is `python -m benchmarks live`.)

Bounded: fixed sizes, each step a few seconds on 2 cores. Run: `python -m benchmarks pipeline`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from benchmarks.machine import describe
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import RECORD_COLUMNS, load_segments
from gex_pipeline.lib.gex.parquet_export import EXPORT_COLUMNS, export_partition, partition_query
from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.staging.layout import seq_name
from gex_pipeline.lib.staging.reader import Segment
from ingest_api.intake import encode_lines

if TYPE_CHECKING:
    import duckdb

FEEDS = [(f"T{i}", "gex_zero") for i in range(10)]
BASE_MS = 1_763_130_600_000  # 2025-11-14 09:30 America/New_York
LOAD_SECONDS = 600  # 10 feeds x 1 Hz x 10 minutes = 6,000 snapshots
STRIKES_PER_SNAPSHOT = 100
SEAL_SECONDS = 2  # the ingest API seals a segment every ~2 s
EXPORT_ROWS = 2_400_000  # one feed-day
SENSOR_INTERVAL_SECONDS = 15
REPEATS = 3


def _body(ticker: str, endpoint: str, second: int, strikes: int) -> bytes:
    """The `/gex` body of one snapshot of feed `ticker`/`endpoint` at `second`."""
    rows = [
        [6000.0 + 5 * i, 10.0 - i * 0.1, 2.5 + i * 0.01, [1.1, -2.2, 3.3, -4.4, 5.5]]
        for i in range(strikes)
    ]
    snapshot = {
        "ticker": ticker,
        "endpoint": endpoint,
        "kind": "snapshot",
        "timestamp": BASE_MS + second * 1000,
        "spot": 6734.25 + second * 0.01,
        "zero_gamma": 6708.6,
        "sum_gex_vol": 1712585.519,
        "sum_gex_oi": 51521.105,
        "major_pos_vol": 6735.0,
        "major_neg_vol": 6700.0,
        "major_pos_oi": 6800.0,
        "major_neg_oi": 6500.0,
        "min_dte": 0,
        "sec_min_dte": 1,
        "delta_risk_reversal": 0.118,
        "max_priors": [[6740.0, 170979.742]] * 6,
        "strikes": rows,
    }
    return orjson.dumps(snapshot)


def write_segments(sealed: Path, seconds: int, strikes: int) -> list[Segment]:
    """Sealed segments of `seconds` of 10 feeds at 1 Hz, one segment per SEAL_SECONDS, with the
    records the API stages (`parse_gex`, then `encode_lines`)."""
    sealed.mkdir(parents=True, exist_ok=True)
    segments = []
    seq = time.time_ns()
    for start in range(0, seconds, SEAL_SECONDS):
        seq += 1_000_000
        path = sealed / seq_name(seq)
        records = [
            parse_gex(_body(ticker, endpoint, second, strikes), BASE_MS + second * 1000 + 120)
            for second in range(start, min(start + SEAL_SECONDS, seconds))
            for ticker, endpoint in FEEDS
        ]
        path.write_bytes(encode_lines(records))
        segments.append(Segment(seq, path))
    return segments


class StatementTimer:
    """A DuckDB connection stand-in that times every `execute` (wall seconds, by statement)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.timings: list[tuple[str, float]] = []

    def execute(self, query: str, *args: object) -> duckdb.DuckDBPyConnection:
        """Run `query` on the wrapped connection and record how long it took."""
        start = time.perf_counter()
        result = self.con.execute(query, *args)
        label = " ".join(query.split()[:6])
        self.timings.append((label, time.perf_counter() - start))
        return result


def _print_breakdown(timer: StatementTimer, min_share: float = 0.01) -> None:
    total = sum(seconds for _, seconds in timer.timings)
    print(f"load_segments breakdown (one run, {total:.3f} s in SQL statements):")
    for label, seconds in timer.timings:
        if seconds >= total * min_share:
            print(f"  {seconds:6.3f} s {seconds / total:4.0%}  {label}")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """Fastest wall time and lowest CPU time of repeated runs."""
    return min(r[0] for r in runs), min(r[1] for r in runs)


def _timed_cpu(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of `action`."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def raw_statement(paths: list[str], typed: bool) -> str:
    """The raw DuckDB statement: parse, flatten strikes, insert; no dedupe, no bookkeeping.

    `typed=False` is the textbook form (strikes as JSON[], fields extracted per row);
    `typed=True` types the strike rows in bulk with json_transform, as `load_segments` does.
    """
    files = ", ".join(f"'{p}'" for p in paths)
    strikes_type = "JSON" if typed else "JSON[]"
    columns = ", ".join(
        f"'{k}': '{strikes_type if k == 'strikes' else v}'" for k, v in RECORD_COLUMNS.items()
    )
    source = f"read_json([{files}], format = 'newline_delimited', columns = {{{columns}}})"
    if typed:
        return f"""
            CREATE OR REPLACE TABLE raw_strikes AS
            SELECT ticker, endpoint, timestamp, row[1] AS strike, row[2] AS gamma,
                   row[3] AS oi_gamma, priors[4] AS priors
            FROM (
                SELECT ticker, endpoint, timestamp,
                       unnest(json_transform(strikes, '[["DOUBLE"]]')) AS row,
                       unnest(json_transform(strikes, '[[["DOUBLE"]]]')) AS priors
                FROM {source}
            )
        """
    return f"""
        CREATE OR REPLACE TABLE raw_strikes AS
        SELECT ticker, endpoint, timestamp, (r ->> 0)::DOUBLE AS strike, (r ->> 1)::DOUBLE AS gamma,
               (r ->> 2)::DOUBLE AS oi_gamma, (r -> '$[3]')::DOUBLE[] AS priors
        FROM (SELECT ticker, endpoint, timestamp, unnest(strikes) AS r FROM {source})
    """


def bench_load(workdir: Path) -> None:
    """Print strike rows/s of the raw statement and of `load_segments`, and their ratio."""
    segments = write_segments(workdir / "load" / "sealed", LOAD_SECONDS, STRIKES_PER_SNAPSHOT)
    rows = LOAD_SECONDS * len(FEEDS) * STRIKES_PER_SNAPSHOT
    paths = [str(s.path) for s in segments]
    textbook, typed, ours = [], [], []
    for attempt in range(REPEATS):  # interleaved, best of REPEATS: the machine is shared
        with connect(workdir / f"raw{attempt}.db") as con:
            textbook.append(_timed_cpu(lambda: con.execute(raw_statement(paths, typed=False))))
            typed.append(_timed_cpu(lambda: con.execute(raw_statement(paths, typed=True))))
        with connect(workdir / f"gex{attempt}.db") as con:
            migrate(con)
            ours.append(_timed_cpu(lambda: load_segments(con, segments)))
            loaded = con.execute("SELECT count(*) FROM gex_strikes").fetchall()[0][0]
    assert loaded == rows, (loaded, rows)
    ours_wall, ours_cpu = _best(ours)
    for name, runs in (("raw JSON[] unnest", textbook), ("raw typed unnest", typed)):
        wall, cpu = _best(runs)
        print(
            f"{name}: {rows / wall:,.0f} rows/s; load_segments at {wall / ours_wall:.0%} of it "
            f"by wall time, {cpu / ours_cpu:.0%} by CPU time (target >= 70%)"
        )
    print(
        f"load_segments: {len(segments)} segments, {rows:,} strike rows, "
        f"{rows / ours_wall:,.0f} rows/s (best of {REPEATS})"
    )
    with connect(workdir / "breakdown.db") as con:
        migrate(con)
        timer = StatementTimer(con)
        load_segments(timer, segments)  # type: ignore[arg-type]
    _print_breakdown(timer)
    tick_segments = segments[: -(-SENSOR_INTERVAL_SECONDS // SEAL_SECONDS)]
    with connect(workdir / "tick.db") as con:
        migrate(con)
        tick = _timed(lambda: load_segments(con, tick_segments))
    print(
        f"one {SENSOR_INTERVAL_SECONDS}s tick of 10 feeds ({len(tick_segments)} segments): {tick:.2f} s"
    )


def bench_export(workdir: Path) -> None:
    """Print rows/s of `export_partition`, raw DuckDB COPY and polars write_parquet."""
    day = date(2025, 11, 14)
    with connect(workdir / "export.db") as con:
        migrate(con)
        con.execute(
            f"""
            INSERT INTO gex_strikes
            SELECT 'SPX', 'gex_zero', {BASE_MS} + (i // 100) * 1000, DATE '2025-11-14',
                   6000 + (i % 100) * 5, sin(i), cos(i), [sin(i), cos(i), 0.5, -0.5, i % 7]
            FROM range({EXPORT_ROWS}) r(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO gex_snapshots (ticker, endpoint, timestamp, trade_date, spot, zero_gamma,
                                       sum_gex_vol, sum_gex_oi, strike_count, source, ingested_at)
            SELECT 'SPX', 'gex_zero', {BASE_MS} + i * 1000, DATE '2025-11-14',
                   6700 + 5 * sin(i / 900), 6650 + 8 * cos(i / 1200), 1.5e6 * sin(i / 3000),
                   5e4 * cos(i / 2000), 100, 'bench', now()
            FROM range({EXPORT_ROWS // 100}) r(i)
            """
        )
        query = partition_query(con, "SPX", "gex_zero", day)
        copy_target = workdir / "copy.parquet"
        select = (
            f"SELECT {', '.join(EXPORT_COLUMNS)} FROM gex_strikes WHERE ticker = 'SPX'"
            " AND endpoint = 'gex_zero' AND trade_date = DATE '2025-11-14' ORDER BY timestamp, strike"
        )
        copy = _timed(
            lambda: con.execute(
                f"COPY ({select}) TO '{copy_target}' (FORMAT parquet, COMPRESSION zstd)"
            )
        )
        frame_time = _timed(lambda: query.pl())
        frame = query.pl()
        polars_write = _timed(
            lambda: frame.write_parquet(workdir / "polars.parquet", compression="zstd")
        )
        ours = _timed(lambda: export_partition(con, workdir / "parquet", "SPX", "gex_zero", day))
    cold = _chart_in_fresh_process(workdir / "parquet", day)
    warm = min(_timed(lambda: _chart(workdir / "parquet", day)) for _ in range(REPEATS))
    print(
        f"day chart of that feed-day (gex_parquet metadata): {cold:.2f} s in a fresh process "
        f"(+{cold / ours:.0%} of export_partition's {ours:.2f} s), {warm:.2f} s warm "
        f"(+{warm / ours:.0%})"
    )
    print(
        f"export {EXPORT_ROWS:,} rows: DuckDB COPY {EXPORT_ROWS / copy:,.0f} rows/s; polars "
        f"(query {frame_time:.2f} s + write {polars_write:.2f} s) "
        f"{EXPORT_ROWS / (frame_time + polars_write):,.0f} rows/s; export_partition "
        f"{EXPORT_ROWS / ours:,.0f} rows/s"
    )


def _chart(parquet_root: Path, day: date) -> str:
    from gex_pipeline.lib.gex.day_chart import chart_markdown

    chart = chart_markdown(parquet_root, "SPX", "gex_zero", day)
    if not chart.startswith("![SPX gex_zero"):
        raise RuntimeError(f"no chart was drawn: {chart[:200]}")
    return chart


def _chart_in_fresh_process(parquet_root: Path, day: date) -> float:
    """Seconds of `_chart` in a new interpreter that has imported what an export run has."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\nfrom datetime import date\n"
        "import gex_pipeline.defs.gex.assets\n"  # what the run worker has loaded already
        "from benchmarks.pipeline import _chart\n"
        "start = time.perf_counter()\n"
        f"_chart(Path({str(parquet_root)!r}), date.fromisoformat({day.isoformat()!r}))\n"
        "print(time.perf_counter() - start)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the load and export figures."""
    print(describe())
    with tempfile.TemporaryDirectory(prefix="gex-bench-") as tmp:
        workdir = Path(tmp)
        bench_load(workdir)
        bench_export(workdir)


if __name__ == "__main__":
    main()
