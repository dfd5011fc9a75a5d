"""Storage at scale (issue 17): whole-store operations on a small and a large store, lake vs the
single-file design, measured in the same run.

Generates day files (3 feeds x `GEX_BENCH_SCALE_SNAPSHOTS` snapshots x 100 strikes, ~585 k strike
rows per feed-day by default) and imports them into the lake through the pipeline's own import.
At two sizes, `GEX_BENCH_SCALE_SMALL_DAYS` (3) and `GEX_BENCH_SCALE_LARGE_DAYS` (24) sessions of
the same days (>= 7x apart), each operation runs in its own process (peak RSS is its own):
- lake: a restore point (writer lock held, bytes copied), the daily restore point (one more day
  imported, then a point: bytes written over that day's bytes), `backup --verify`, restore of the
  whole store, rebuild of every partition (`rebuild --into`), a whole-range aggregate;
- single file (the design before the lake, rebuilt from the same rows): `COPY FROM DATABASE`
  backup under the writer lock, restore (copy + count), rebuild (every day file imported into one
  file), the same aggregate on the file.
Each figure is printed at both sizes with its ratio, its growth class (constant: < 1.5x for a
store >= 7x larger) and its extrapolation to 1 year x 10 feeds (5.8 B strike rows; linear
and sublinear figures scaled by rows, the sublinear ones printed as an upper bound "<= ").
Then, at the large size: 7 daily restore points over the store's size
on disk, and (`GEX_BENCH_SCALE_LIVE_SECONDS`, default 300, 0 skips it) a live phase: the ingest
API and the live loader under a session load (10 feeds x 1 Hz x 100 strikes) while a reader
loops whole-range aggregates over the lake, then again while `rebuild --into` runs: post -> row
(committed) and post -> lake (visible to readers) p50 / p95.
Goals: daily point holds the writer <= 2 s and writes <= 1.3x the day's data at both sizes; 7
points <= 1.5x the store; every whole-store operation <= 1 GiB RSS; rebuild >= 2x faster per row
than 3.5 s per M rows; post -> row p95 <= 5 s with the reader and during the rebuild.
Run: `python -m benchmarks scale`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from benchmarks.machine import describe

FEEDS = (("SPX", "gex_zero"), ("NDX", "gex_zero"), ("QQQ", "gex_zero"))
STRIKES = 100
YEAR_ROWS = 10 * 2_300_000 * 252
OLD_REBUILD_S_PER_M = 3.5
POINTS = 7
GIB = 2**30


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


SNAPSHOTS = _env_int("GEX_BENCH_SCALE_SNAPSHOTS", 5850)
SMALL_DAYS = _env_int("GEX_BENCH_SCALE_SMALL_DAYS", 3)
LARGE_DAYS = _env_int("GEX_BENCH_SCALE_LARGE_DAYS", 24)
LIVE_SECONDS = _env_int("GEX_BENCH_SCALE_LIVE_SECONDS", 300)


def sessions(count: int, last: date = date(2025, 11, 14)) -> list[date]:
    """The `count` NYSE sessions up to `last`, oldest first."""
    from gex_pipeline.lib.calendar.sessions import session

    days: list[date] = []
    day = last
    while len(days) < count:
        if session(day) is not None:
            days.append(day)
        day = date.fromordinal(day.toordinal() - 1)
    return days[::-1]


def make_day_file(folder: Path, day: date, ticker: str, endpoint: str, seed: int) -> Path:
    """A vendor-format day file (gzip JSON array) of `SNAPSHOTS` x `STRIKES`, written by DuckDB
    (the demo generator is exact but slow); values vary like real ones (not compressible)."""
    import duckdb

    from gex_pipeline.lib.calendar.sessions import session

    opened = session(day)
    assert opened is not None
    start = opened.open_ms // 1000
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day.isoformat()}_{ticker}_classic_{endpoint}.json.gz"
    noise = f"((hash(i, k, {seed}) % 200000) / 1000.0 - 100)"
    with duckdb.connect() as con:
        con.execute(
            f"""
            COPY (
              SELECT {start} + i * 4 AS timestamp,
                     6700 + sin(i / 500.0) * 20 + (hash(i, {seed}) % 100) / 100.0 AS spot,
                     6690 + cos(i / 700.0) * 15 AS zero_gamma,
                     1.5e6 + (hash(i, {seed}) % 100000) AS sum_gex_vol, 5e4 AS sum_gex_oi,
                     6735.0 AS major_pos_vol, 6700.0 AS major_neg_vol, 6800.0 AS major_pos_oi,
                     6500.0 AS major_neg_oi, 0 AS min_dte, 1 AS sec_min_dte,
                     0.1 AS delta_risk_reversal,
                     list_transform(range({STRIKES}), lambda k: json_array(
                         6500 + k * 5.0, {noise}, {noise} / 10,
                         [{noise}, {noise} + 1, {noise} + 2, {noise} + 3, {noise} + 4]))
                       AS strikes
              FROM range({SNAPSHOTS}) t(i)
            ) TO '{path}' (FORMAT json, ARRAY true, COMPRESSION gzip)
            """
        )
    return path


# ---- operations, each run in a child process (`_child`) -----------------------------------------


def _rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _settings(data_dir: str):  # type: ignore[no-untyped-def]
    os.environ["GEX_DATA_DIR"] = data_dir
    from gex_pipeline.settings import Settings

    return Settings.from_env()


def op_import(data_dir: str, day: str) -> dict:
    """Import every feed of `day` from its kept raw file into the lake."""
    from gex_pipeline.lib.gex.feed_day import FeedDay
    from gex_pipeline.lib.history.partition_import import import_partition
    from gex_pipeline.lib.lake.store import TableStore

    settings = _settings(data_dir)
    store = TableStore.from_paths(settings.paths, settings.history.duckdb_memory_limit)
    started = time.perf_counter()
    for ticker, endpoint in FEEDS:
        import_partition(
            FeedDay(date.fromisoformat(day), ticker, endpoint),
            store=store,
            paths=settings.paths,
            history=settings.history,
            parquet_root=settings.paths.parquet_dir,
        )
    return {"seconds": time.perf_counter() - started}


def op_point(data_dir: str) -> dict:
    """Take a restore point."""
    from gex_pipeline.lib.lake.restore_points import BackupRoots, take_point
    from gex_pipeline.lib.lake.tables import lake_at

    settings = _settings(data_dir)
    started = time.perf_counter()
    point = take_point(
        settings.paths.duckdb_path, lake_at(settings.paths), BackupRoots(settings.paths.backups_dir)
    )
    return {
        "seconds": time.perf_counter() - started,
        "held": point.manifest["writer_held_seconds"],
        "bytes": point.bytes_added,
        "path": str(point.path),
    }


def op_verify(data_dir: str, path: str, full: str) -> dict:
    """`backup --verify` (`full`: every file re-hashed)."""
    from gex_pipeline.lib.lake.restore_points import verify_point

    _settings(data_dir)
    started = time.perf_counter()
    verify_point(Path(path), full=full == "1")
    return {"seconds": time.perf_counter() - started}


def op_restore(data_dir: str, path: str) -> dict:
    """`restore-db --force` of a point."""
    from gex_pipeline.lib.lake.restore_points import load_point, restore_store
    from gex_pipeline.lib.lake.tables import lake_at

    settings = _settings(data_dir)
    started = time.perf_counter()
    restore_store(
        load_point(Path(path)), lake_at(settings.paths), settings.paths.duckdb_path, force=True
    )
    return {"seconds": time.perf_counter() - started}


def op_rebuild(data_dir: str, into: str) -> dict:
    """`rebuild --into` a fresh lake."""
    from gex_pipeline.lib.ops.rebuild import rebuild_lake

    settings = _settings(data_dir)
    started = time.perf_counter()
    report = rebuild_lake(settings, into=Path(into))
    return {"seconds": time.perf_counter() - started, "rows": report.rows}


AGGREGATE = (
    "SELECT ticker, endpoint, count(*), avg(gamma), max(timestamp) FROM gex_strikes"
    " GROUP BY ticker, endpoint"
)


def op_aggregate_lake(data_dir: str) -> dict:
    """A whole-range aggregate over the lake (`connect_lake`)."""
    from gex_pipeline.lib.lake.reads import connect_lake

    _settings(data_dir)
    started = time.perf_counter()
    with connect_lake(Path(data_dir)) as con:
        con.execute("SET memory_limit = '1GB'")
        con.execute(AGGREGATE).fetchall()
    return {"seconds": time.perf_counter() - started}


def op_aggregate_file(db: str) -> dict:
    """The same aggregate on a single-file store."""
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(db, read_only=True) as con:
        con.execute(AGGREGATE).fetchall()
    return {"seconds": time.perf_counter() - started}


def op_file_from_lake(data_dir: str, db: str) -> dict:
    """Build the single-file store of the same rows (the design before the lake)."""
    import duckdb

    from gex_pipeline.lib.db.migrations import MIGRATIONS
    from gex_pipeline.lib.db.schema import migrate
    from gex_pipeline.lib.lake.reads import connect_lake

    Path(db).unlink(missing_ok=True)
    with duckdb.connect(db) as out:
        migrate(out, [m for m in MIGRATIONS if m.version <= 5])
    with connect_lake(Path(data_dir), ["gex_snapshots", "gex_strikes"]) as con:
        con.execute("SET memory_limit = '2GB'")
        con.execute(f"ATTACH '{db}' AS single")
        for name in ("gex_snapshots", "gex_strikes"):
            con.execute(f"INSERT INTO single.{name} BY NAME SELECT * EXCLUDE (feed) FROM {name}")
        con.execute("DETACH single")
    return {"bytes": Path(db).stat().st_size}


def op_file_backup(db: str, target: str) -> dict:
    """The single-file backup: `COPY FROM DATABASE` while holding the writer lock."""
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(db) as con:
        con.execute(f"ATTACH '{target}' AS copy")
        source = con.execute("SELECT current_database()").fetchall()[0][0]
        con.execute(f'COPY FROM DATABASE "{source}" TO copy')
        con.execute("CHECKPOINT copy")
        con.execute("DETACH copy")
    return {"seconds": time.perf_counter() - started, "bytes": Path(target).stat().st_size}


def op_file_restore(backup: str, db: str) -> dict:
    """The single-file restore: copy the backup into place and check its row counts."""
    import duckdb

    started = time.perf_counter()
    shutil.copyfile(backup, db)
    with duckdb.connect(db, read_only=True) as con:
        con.execute("SELECT count(*) FROM gex_strikes").fetchall()
        con.execute("SELECT count(*) FROM gex_snapshots").fetchall()
    return {"seconds": time.perf_counter() - started}


def op_file_rebuild(data_dir: str, db: str) -> dict:
    """The single-file rebuild: every kept day file imported into one new file, in order."""
    from gex_pipeline.lib.db.connection import connect
    from gex_pipeline.lib.db.migrations import MIGRATIONS
    from gex_pipeline.lib.db.schema import migrate
    from gex_pipeline.lib.history.day_import import import_day_file
    from gex_pipeline.lib.ops.rebuild import raw_day_files

    settings = _settings(data_dir)
    Path(db).unlink(missing_ok=True)
    started = time.perf_counter()
    rows = 0
    with connect(Path(db)) as con:
        migrate(con, [m for m in MIGRATIONS if m.version <= 5])
        con.execute(f"SET memory_limit = '{settings.history.duckdb_memory_limit}'")
        for raw in sorted(
            raw_day_files(settings.paths.source_dir).values(), key=lambda r: r.mtime_ns
        ):
            stats = import_day_file(con, raw.path, ticker=raw.ticker, endpoint=raw.endpoint,
                                    trade_date=raw.trade_date, backups_dir=Path(db).parent / "pre",
                                    force=True)  # fmt: skip
            rows += stats.strike_rows
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _child(op: str, *args: str) -> dict:
    code = (
        "import json, sys, benchmarks.scale as s; "
        f"r = s.op_{op}(*sys.argv[1:]); r['rss_mib'] = s._rss_mib(); print(json.dumps(r))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{op} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the store and its measurements ---------------------------------------------------------------


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


@dataclass
class Store:
    """The benchmark's data directory and the days it holds."""

    root: Path
    days: list[date] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def add_day(self, day: date) -> float:
        from gex_pipeline.lib.history.sources import raw_dir

        paths_root = self.data / "source" / "gexbot"
        for n, (ticker, endpoint) in enumerate(FEEDS):
            folder = raw_dir(paths_root, ticker, endpoint)
            make_day_file(folder, day, ticker, endpoint, seed=day.toordinal() * 10 + n)
        seconds = _child("import", str(self.data), day.isoformat())["seconds"]
        self.days.append(day)
        return seconds

    def strike_rows(self) -> int:
        return len(self.days) * len(FEEDS) * SNAPSHOTS * STRIKES

    def lake_bytes(self) -> int:
        return _dir_bytes(self.data / "lake")


def _day_lake_bytes(store: Store, day: date) -> int:
    """Bytes of the lake's current files of one date (every table)."""
    total = 0
    for table in (store.data / "lake").iterdir():
        for part in table.glob(f"trade_date={day.isoformat()}/**/*.parquet"):
            total += part.stat().st_size
    return total


def measure(store: Store, extra_day: date, work: Path) -> dict[str, dict]:
    """Every operation at the store's current size (adds `extra_day` for the daily point)."""
    data = str(store.data)
    out: dict[str, dict] = {"point": _child("point", data)}
    import_s = store.add_day(extra_day)
    out["rows"] = {"value": store.strike_rows()}
    daily = _child("point", data)
    daily["day_bytes"] = _day_lake_bytes(store, extra_day)
    out["daily point"] = daily
    out["import of one feed-day"] = {"seconds": import_s / len(FEEDS)}
    out["verify"] = _child("verify", data, daily["path"], "0")
    out["verify --full"] = _child("verify", data, daily["path"], "1")
    out["aggregate (lake)"] = _child("aggregate_lake", data)
    out["restore-db"] = _child("restore", data, daily["path"])
    drill = work / f"drill-{len(store.days)}"
    out["rebuild"] = _child("rebuild", data, str(drill))
    shutil.rmtree(drill, ignore_errors=True)
    single = work / f"single-{len(store.days)}.db"
    made = _child("file_from_lake", data, str(single))
    copy = work / f"single-{len(store.days)}-backup.db"
    out["old backup"] = _child("file_backup", str(single), str(copy))
    out["old backup"]["held"] = out["old backup"]["seconds"]
    out["old 7 backups"] = {"bytes": 7 * out["old backup"]["bytes"], "file": made["bytes"]}
    out["old restore-db"] = _child("file_restore", str(copy), str(single))
    out["old aggregate"] = _child("aggregate_file", str(single))
    rebuilt = work / f"single-{len(store.days)}-rebuilt.db"
    out["old rebuild"] = _child("file_rebuild", data, str(rebuilt))
    for path in (single, copy, rebuilt):
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
    shutil.rmtree(work / "pre", ignore_errors=True)
    out["lake bytes"] = {"bytes": store.lake_bytes()}
    return out


# ---- the live phase ------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reader_loop(data_dir: Path, stop: threading.Event, counts: list[float]) -> None:
    """Whole-range aggregates over the lake, one after the other, until `stop`."""
    from gex_pipeline.lib.lake.reads import connect_lake, refresh

    with connect_lake(data_dir) as con:
        con.execute("SET memory_limit = '1GB'")
        while not stop.is_set():
            started = time.perf_counter()
            refresh(con, data_dir, ["gex_strikes"])
            con.execute(AGGREGATE).fetchall()
            counts.append(time.perf_counter() - started)


def _lake_watch(data_dir: Path, posted: dict, seen: dict, stop: threading.Event) -> None:
    """Stamp when each posted (ticker, endpoint, timestamp) becomes readable in the lake."""
    from gex_pipeline.lib.lake.reads import connect_lake, refresh

    with connect_lake(data_dir, ["gex_snapshots"]) as con:
        while not stop.is_set():
            refresh(con, data_dir, ["gex_snapshots"])
            now = time.monotonic()
            keys = list(posted)  # a copy: the posting thread adds keys meanwhile
            floor = min((k[2] for k in keys if k not in seen), default=None)
            if floor is not None:
                rows = con.execute(
                    "SELECT ticker, endpoint, timestamp FROM gex_snapshots WHERE timestamp >= ?",
                    [floor],
                ).fetchall()
                for key in rows:
                    if key in posted and key not in seen:
                        seen[key] = now
            stop.wait(0.2)


def live_phase(store: Store, seconds: int, work: Path, during: str | None) -> dict:
    """The API and the live loader under a session load, a reader looping whole-range aggregates
    over the lake, and optionally a rebuild (`during == "rebuild"`) at the same time."""
    from benchmarks.live import FEEDS as LIVE_FEEDS
    from benchmarks.live import Visibility, _percentile
    from gex_pipeline.cli.demo.live import LiveFeed, flat_payload

    api_port = _free_port()
    env = {
        **os.environ,
        "GEX_DATA_DIR": str(store.data),
        "DAGSTER_HOME": str(work / "dagster_home"),
        "GEX_INGEST_PORT": str(api_port),
    }
    (work / "dagster_home").mkdir(exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gex_pipeline.cli", command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for command in ("serve", "live-loader")
    ]
    stop = threading.Event()
    watch = Visibility(store.data / "staging" / "gex" / "processed")
    posted: dict[tuple[str, str, int], float] = {}
    seen: dict[tuple[str, str, int], float] = {}
    loops: list[float] = []
    threads = [
        threading.Thread(target=watch.run, daemon=True),
        threading.Thread(target=_reader_loop, args=(store.data, stop, loops), daemon=True),
        threading.Thread(target=_lake_watch, args=(store.data, posted, seen, stop), daemon=True),
    ]
    rebuild = None
    try:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        for thread in threads:
            thread.start()
        if during == "rebuild":
            rebuild = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gex_pipeline.cli",
                    "rebuild",
                    "--into",
                    str(work / "live-drill"),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        start = int(time.time()) + 2
        feeds = [LiveFeed(t, e, 11, start, STRIKES, warmup=30) for t, e in LIVE_FEEDS]
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as client:
            began = time.monotonic()
            for second in range(seconds):
                time.sleep(max(0.0, began + second - time.monotonic()))
                for feed in feeds:
                    snapshot = feed.next_snapshot()
                    body = flat_payload(snapshot, feed.endpoint)
                    sent = time.monotonic()
                    answer = client.post("/gex", json=body)
                    if answer.status_code == 202:
                        watch.posted[answer.json()["id"]] = sent
                        posted[(feed.ticker, feed.endpoint, int(body["timestamp"]) * 1000)] = sent
        time.sleep(10)
    finally:
        stop.set()
        watch.stop.set()
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        rebuild_done = None
        if rebuild is not None:
            rebuild_done = rebuild.poll()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(rebuild.pid, signal.SIGKILL)
            rebuild.wait()
            shutil.rmtree(work / "live-drill", ignore_errors=True)
    committed = watch.delays()
    # A row not seen by the end of the phase counts as slower than any seen one (not left out).
    visible = sorted(seen[k] - t if k in seen else math.inf for k, t in posted.items())
    return {
        "committed_p50": _percentile(committed, 0.5),
        "committed_p95": _percentile(committed, 0.95),
        "lake_p50": _percentile(visible, 0.5),
        "lake_p95": _percentile(visible, 0.95),
        "posted": len(watch.posted),
        "committed": len(committed),
        "lake_seen": len(seen),
        "reader_loops": len(loops),
        "reader_p50": _percentile(sorted(loops), 0.5),
        "rebuild_finished": rebuild_done == 0 if rebuild is not None else None,
    }


# ---- the report --------------------------------------------------------------------------------------


def _growth(small: float, large: float, rows_ratio: float) -> str:
    if small <= 0:
        return "n/a"
    ratio = large / small
    if ratio < 1.5:
        return "constant"
    return "linear" if ratio > rows_ratio / 2 else "sublinear"


def _year(small: float, large: float, rows_small: int, rows_large: int) -> float:
    if _growth(small, large, rows_large / rows_small) == "constant":
        return large
    return large * YEAR_ROWS / rows_large


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s" if value < 120 else f"{value / 60:.1f} min"
    if unit == "B":
        return f"{value / 2**20:.0f} MiB" if value < GIB else f"{value / GIB:.1f} GiB"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:.2f}"


def report(small: dict, large: dict) -> None:
    """Print every figure at both sizes with ratio, growth class and 1-year extrapolation."""
    rs, rl = small["rows"]["value"], large["rows"]["value"]
    print(f"store: small {rs / 1e6:.1f} M strike rows, large {rl / 1e6:.1f} M ({rl / rs:.1f}x)")
    rows = [
        ("lake: restore point, writer held", "point", "held", "s"),
        ("lake: daily point, writer held", "daily point", "held", "s"),
        ("lake: daily point, bytes written", "daily point", "bytes", "B"),
        ("lake: daily point, seconds", "daily point", "seconds", "s"),
        ("lake: daily point, peak RSS", "daily point", "rss_mib", "MiB"),
        ("lake: import of one feed-day", "import of one feed-day", "seconds", "s"),
        ("lake: backup --verify", "verify", "seconds", "s"),
        ("lake: backup --verify --full", "verify --full", "seconds", "s"),
        ("lake: verify peak RSS", "verify --full", "rss_mib", "MiB"),
        ("lake: restore-db", "restore-db", "seconds", "s"),
        ("lake: restore-db peak RSS", "restore-db", "rss_mib", "MiB"),
        ("lake: rebuild (2 workers)", "rebuild", "seconds", "s"),
        ("lake: rebuild peak RSS", "rebuild", "rss_mib", "MiB"),
        ("lake: whole-range aggregate", "aggregate (lake)", "seconds", "s"),
        ("lake: aggregate peak RSS", "aggregate (lake)", "rss_mib", "MiB"),
        ("lake: store on disk", "lake bytes", "bytes", "B"),
        ("single file: backup (writer held)", "old backup", "held", "s"),
        ("single file: backup bytes", "old backup", "bytes", "B"),
        ("single file: 7 backups", "old 7 backups", "bytes", "B"),
        ("single file: backup peak RSS", "old backup", "rss_mib", "MiB"),
        ("single file: restore-db", "old restore-db", "seconds", "s"),
        ("single file: rebuild", "old rebuild", "seconds", "s"),
        ("single file: rebuild peak RSS", "old rebuild", "rss_mib", "MiB"),
        ("single file: whole-range aggregate", "old aggregate", "seconds", "s"),
    ]
    print(
        f"{'operation':<38}{'small':>12}{'large':>12}{'ratio':>8}  {'growth':<10}{'1 y x 10 feeds':>16}"
    )
    for label, key, figure, unit in rows:
        a, b = float(small[key][figure]), float(large[key][figure])
        growth = _growth(a, b, rl / rs)
        year = _year(a, b, rs, rl)
        print(
            f"{label:<38}{_fmt(a, unit):>12}{_fmt(b, unit):>12}{(b / a if a else float('nan')):>7.2f}x"
            f"  {growth:<10}{('<= ' if growth == 'sublinear' else '') + _fmt(year, unit):>16}"
        )
    for label, size in (("small", small), ("large", large)):
        daily = size["daily point"]
        rebuild = size["rebuild"]
        old = size["old rebuild"]
        print(
            f"{label}: daily point writer held {daily['held']:.2f} s (goal <= 2: "
            f"{'ok' if daily['held'] <= 2 else 'MISSED'}), wrote {daily['bytes'] / daily['day_bytes']:.2f}x "
            f"the day's {_fmt(daily['day_bytes'], 'B')} (goal <= 1.3: "
            f"{'ok' if daily['bytes'] <= 1.3 * daily['day_bytes'] else 'MISSED'}); rebuild "
            f"{rebuild['seconds'] / (rebuild['rows'] / 1e6):.2f} s per M rows vs single file "
            f"{old['seconds'] / (old['rows'] / 1e6):.2f} (goal <= {OLD_REBUILD_S_PER_M / 2:.2f}: "
            f"{'ok' if rebuild['seconds'] / (rebuild['rows'] / 1e6) <= OLD_REBUILD_S_PER_M / 2 else 'MISSED'})"
        )
    rss = max(
        float(large[k]["rss_mib"])
        for k in ("daily point", "verify --full", "restore-db", "rebuild", "aggregate (lake)")
    )
    print(
        f"whole-store operations peak RSS (large): {rss:.0f} MiB (goal <= 1024: {'ok' if rss <= 1024 else 'MISSED'})"
    )


def points_phase(store: Store, days: list[date], old_backup_bytes: int) -> None:
    """`POINTS` daily restore points (a new day imported before each) over the store's size."""
    for day in days:
        store.add_day(day)
        _child("point", str(store.data))
    from gex_pipeline.lib.lake.restore_points import BackupRoots, list_points, prune_points

    backups = BackupRoots(store.data / "backups")
    prune_points(backups, POINTS)
    kept = len(list_points(backups.points))
    mirror = _dir_bytes(backups.root)
    lake = store.lake_bytes()
    print(
        f"{kept} daily restore points: {_fmt(mirror, 'B')} beside a {_fmt(lake, 'B')} lake = "
        f"{mirror / lake:.2f}x the store (goal <= 1.5: {'ok' if mirror <= 1.5 * lake else 'MISSED'}); "
        f"{POINTS} single-file backups of the large store: {_fmt(POINTS * old_backup_bytes, 'B')}"
    )


def _seconds(value: float) -> str:
    """A delay, or what it means when the row was not seen within the phase."""
    return f"{value:.2f} s" if math.isfinite(value) else "not seen within the phase"


def main() -> None:
    """Build both sizes, measure, print; then the 7-point and the live phases at the large size."""
    print(describe())
    total = LARGE_DAYS + POINTS + 2
    days = sessions(total)
    base, extra_small, extra_large, point_days = (
        days[: LARGE_DAYS - 1],
        days[LARGE_DAYS - 1],
        days[LARGE_DAYS],
        days[LARGE_DAYS + 1 :],
    )
    with tempfile.TemporaryDirectory(prefix="gex-bench-scale-") as tmp:
        work = Path(tmp)
        store = Store(work / "store")
        started = time.perf_counter()
        imports = [store.add_day(day) for day in base[: SMALL_DAYS - 1]]
        small = measure(store, extra_small, work)
        imports += [store.add_day(day) for day in base[SMALL_DAYS - 1 :]]
        print(
            f"built {len(store.days)} sessions x {len(FEEDS)} feeds in {time.perf_counter() - started:.0f} s "
            f"(import {sum(imports) / len(imports) / len(FEEDS):.2f} s per feed-day)",
            flush=True,
        )
        large = measure(store, extra_large, work)
        report(small, large)
        points_phase(store, point_days[: POINTS - 1], int(large["old backup"]["bytes"]))
        if LIVE_SECONDS > 0:
            for during in (None, "rebuild"):
                live = live_phase(store, LIVE_SECONDS, work, during)
                what = "with a reader looping aggregates" + (" and a rebuild" if during else "")
                print(
                    f"live {LIVE_SECONDS} s {what}: post -> row p50 {live['committed_p50']:.2f} s, "
                    f"p95 {live['committed_p95']:.2f} s (goal p95 <= 5: "
                    f"{'ok' if live['committed_p95'] <= 5 else 'MISSED'}); post -> lake p50 "
                    f"{_seconds(live['lake_p50'])}, p95 {_seconds(live['lake_p95'])}; {live['committed']}/"
                    f"{live['posted']} committed, {live['lake_seen']} seen in the lake; reader "
                    f"{live['reader_loops']} aggregates, p50 {live['reader_p50']:.2f} s"
                    + (f"; rebuild finished: {live['rebuild_finished']}" if during else "")
                )


if __name__ == "__main__":
    main()
