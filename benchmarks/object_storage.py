"""The lake on object storage vs the local lake, measured in the same run (issue 18).

Starts a moto S3 server on 127.0.0.1 (the one the tests use) and measures, for the local lake
(`$GEX_DATA_DIR/lake`, the baseline) and a lake on the server (`GEX_LAKE_URI=s3://...`):
1. live: a `gex-pipeline live-loader` process loads 10 feeds at 1 Hz with 100 strikes each
   (one sealed segment a second, as the ingest API seals them) for `GEX_BENCH_OS_SECONDS`
   (default 60), passing into the lake at its default interval (`GEX_LAKE_FLUSH_SECONDS` unset:
   2 s local, 1 s on object storage; printed); this process polls the lake every 0.25 s for snapshots newer than the last
   it saw (the table kept open and brought up to date, only the files whose statistics may hold
   newer rows read, on both lakes) and times each snapshot from the moment its segment was
   sealed to the moment it is readable in the lake, and the loader's CPU.
   A POST waits up to `GEX_INGEST_SEAL_AGE_MS` (2 s) in its open segment before the seal, so
   post -> row is at most that plus the figure (goal: p95 <= 5 s);
2. import: one day file (`GEX_BENCH_OS_SNAPSHOTS` x 150 strikes, default 1500) imported into
   the store each live phase wrote (`import_partition`: parse, workspace, replace, figures,
   export; the same table history on both sides), median of 3 (goal: object storage <= 1.5x the
   local figure).
moto keeps objects in memory on this machine: the figures show the cost of the object-store
protocol and of the conflict-checked commits, not a WAN's latency.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

from benchmarks.machine import describe

FEEDS = [(t, e) for t in ("SPX", "NDX", "SPY", "QQQ", "ES_SPX") for e in ("gex_zero", "gex_one")]
STRIKES = 100
TICK = os.sysconf("SC_CLK_TCK")
DAY = date(2025, 11, 14)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _live(root: Path, lake_env: dict[str, str], seconds: int) -> dict[str, float]:
    import duckdb

    from gex_pipeline.lib.lake.reads import register
    from gex_pipeline.lib.lake.remote import settings_lake
    from gex_pipeline.lib.lake.tables import TableCache
    from gex_pipeline.lib.live.lake_sync import default_flush_seconds
    from gex_pipeline.settings import Settings
    from gex_pipeline_tests.support.staging_trees import GexStagingTree

    data = root / "data"
    (data / "dagster_home").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEX_", "AWS_", "DAGSTER"))}
    env |= {**lake_env, "GEX_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home")}
    tables = TableCache(settings_lake(Settings.from_env(env)))
    tree = GexStagingTree(data / "staging")
    log = (root / "loader.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gex_pipeline.cli", "live-loader"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sealed: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        watermark = 0
        while not stop.wait(0.25):
            try:
                with duckdb.connect() as con:
                    newer = {"timestamp": (watermark + 1, None)}  # only files that may hold them
                    table = tables.get("gex_snapshots")  # brought up to date, not reopened
                    register(con, "gex_snapshots", table, "gex_snapshots", ranges=newer)
                    rows = con.execute(
                        f"SELECT DISTINCT timestamp FROM gex_snapshots WHERE timestamp > {watermark}"
                    ).fetchall()
            except Exception:  # the table is created by the loader's first pass
                continue
            now = time.monotonic()
            for (timestamp,) in rows:
                seen.setdefault(timestamp, now)
            if rows:
                watermark = max(watermark, *(r[0] for r in rows))

    strikes = [[6700.0 + k, 1.0 + k, 0.5, [1.0, 2.0, 3.0, 4.0, 5.0]] for k in range(STRIKES)]
    poller = threading.Thread(target=poll)
    try:
        time.sleep(5)  # interpreter and loader start-up
        poller.start()
        cpu0 = _cpu_seconds(proc.pid)
        started = time.monotonic()
        for n in range(seconds):
            timestamp = int(time.time() * 1000)
            records = [tree.record(t, e, timestamp, strikes=strikes) for t, e in FEEDS]
            tree.seal(records)
            sealed[timestamp] = time.monotonic()
            time.sleep(max(0.0, started + n + 1 - time.monotonic()))
        cpu = _cpu_seconds(proc.pid) - cpu0
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 30
        while len(seen.keys() & sealed.keys()) < len(sealed) and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        stop.set()
        if poller.is_alive():
            poller.join()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
    delays = [seen[t] - s for t, s in sealed.items() if t in seen]
    return {
        "p50": _percentile(delays, 0.5),
        "p95": _percentile(delays, 0.95),
        "max": max(delays) if delays else float("nan"),
        "lost": float(len(sealed) - len(delays)),
        "cpu_pct": 100 * cpu / elapsed,
        "flush": default_flush_seconds(tables.lake),
    }


def _import_once(data: Path, lake_env: dict[str, str], day_file: Path) -> float:
    from gex_pipeline.lib.gex.feed_day import FeedDay
    from gex_pipeline.lib.history.partition_import import import_partition
    from gex_pipeline.lib.history.sources import raw_dir, raw_file_name
    from gex_pipeline.lib.lake.store import TableStore
    from gex_pipeline.settings import Settings

    settings = Settings.from_env({**lake_env, "GEX_DATA_DIR": str(data)})
    folder = raw_dir(settings.paths.source_dir, "SPX", "gex_zero")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(day_file, folder / raw_file_name(DAY, "SPX", "gex_zero", True))
    started = time.perf_counter()
    import_partition(
        FeedDay(DAY, "SPX", "gex_zero"),
        store=TableStore.from_settings(settings),
        paths=settings.paths,
        history=settings.history,
        parquet_root=settings.paths.parquet_dir,
    )
    return time.perf_counter() - started


def main() -> None:
    from gex_pipeline.cli.demo.history_day import make_day_file
    from gex_pipeline_tests.support.object_store import start_object_store

    print(describe())
    seconds = int(os.environ.get("GEX_BENCH_OS_SECONDS", "60"))
    snapshots = int(os.environ.get("GEX_BENCH_OS_SNAPSHOTS", "1500"))
    with tempfile.TemporaryDirectory(prefix="gex-bench-os-") as tmp:
        root = Path(tmp)
        store = start_object_store(root)
        try:
            configs = {"local lake": {}, "object storage": store.env(f"bench-{uuid.uuid4().hex}")}
            live = {}
            stores = {label: root / f"live-{n}" for n, label in enumerate(configs)}
            for label, env in configs.items():
                print(f"live load into the {label} ({seconds} s) ...", flush=True)
                live[label] = _live(stores[label], env, seconds)
            day = make_day_file(root / "day", DAY.isoformat(), "SPX", "gex_zero", seed=5,
                                snapshots=snapshots, strikes=150)  # fmt: skip
            imports: dict[str, list[float]] = {label: [] for label in configs}
            for _ in range(3):  # interleaved: both see the same machine load
                for label, env in configs.items():
                    imports[label].append(_import_once(stores[label] / "data", env, day.path))
        finally:
            store.stop()
    print(f"\n{'':38s}{'local lake':>16s}{'object storage':>18s}")
    rows = [
        ("loader's lake pass every (s)", "flush", "{:.0f}"),
        ("sealed segment -> row in lake p50 (s)", "p50", "{:.2f}"),
        ("sealed segment -> row in lake p95 (s)", "p95", "{:.2f}"),
        ("sealed segment -> row in lake max (s)", "max", "{:.2f}"),
        ("snapshots never seen", "lost", "{:.0f}"),
        ("loader CPU (% of one core)", "cpu_pct", "{:.1f}"),
    ]
    local, shared = live["local lake"], live["object storage"]
    for name, key, fmt in rows:
        print(f"{name:38s}{fmt.format(local[key]):>16s}{fmt.format(shared[key]):>18s}")
    day_local = statistics.median(imports["local lake"])
    day_shared = statistics.median(imports["object storage"])
    print(f"{'per-day import, median of 3 (s)':38s}{day_local:>16.2f}{day_shared:>18.2f}")
    seal_age = 2.0
    print(
        f"\npost -> row p95 <= seal age ({seal_age:.0f} s) + {shared['p95']:.2f} s ="
        f" {seal_age + shared['p95']:.2f} s on object storage (goal <= 5 s:"
        f" {'met' if seal_age + shared['p95'] <= 5 else 'MISSED'});"
        f" import {day_shared / day_local:.2f}x the local figure (goal <= 1.5x:"
        f" {'met' if day_shared <= 1.5 * day_local else 'MISSED'})"
    )
