"""The lake on object storage vs the local lake, measured in the same run (issue 18).

Starts a moto S3 server on 127.0.0.1 (the one the tests use) and measures, for the local lake
(`$GEX_DATA_DIR/lake`, the baseline) and a lake on the server (`GEX_LAKE_URI=s3://...`):
1. live: 10 feeds post `/gex` at 1 Hz with 100 strikes each for `GEX_BENCH_OS_SECONDS`
   (default 60) to a `gex-pipeline serve` process, and a `gex-pipeline live-loader` process loads
   them, passing into the lake at its default interval (`GEX_LAKE_FLUSH_SECONDS` unset: 2 s
   local, 1 s on object storage; printed); this process polls the lake every 0.25 s as a reader
   would (`benchmarks.live.LakeVisibility`: the table kept open and brought up to date, only the
   files whose statistics may hold newer rows read, on both lakes) and times each snapshot from
   its POST to the moment it is readable in the lake (goal: p95 <= 5 s), and the loader's CPU;
2. import: one day file (`GEX_BENCH_OS_SNAPSHOTS` x 150 strikes, default 1500) imported into
   the store each live phase wrote (`import_partition`: parse, workspace, replace, figures,
   export; the same table history on both sides), median of 3 (goal: object storage <= 1.5x the
   local figure).
moto keeps objects in memory on this machine: the figures show the cost of the object-store
protocol and of the conflict-checked commits, not a WAN's latency.
"""

from __future__ import annotations

import json
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
    import httpx

    from benchmarks.live import LakeVisibility
    from gex_pipeline.cli.demo.live import LiveFeed, flat_payload
    from gex_pipeline.lib.lake.remote import settings_lake
    from gex_pipeline.lib.live.lake_sync import default_flush_seconds
    from gex_pipeline.settings import Settings
    from gex_pipeline_tests.support.servers import IngestServer, free_port

    data = root / "data"
    (data / "dagster_home").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEX_", "AWS_", "DAGSTER"))}
    env |= {**lake_env, "GEX_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home")}
    env["GEX_INGEST_PORT"] = str(free_port())
    api = IngestServer(env, root / "api.log").start()
    log = (root / "loader.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gex_pipeline.cli", "live-loader"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    watch = LakeVisibility(env)
    poller = threading.Thread(target=watch.run)
    start = int(time.time()) + 2
    feeds = [LiveFeed(t, e, 11, start, STRIKES, warmup=30) for t, e in FEEDS]
    headers = {"Content-Type": "application/json"}
    try:
        time.sleep(5)  # interpreter and loader start-up
        poller.start()
        cpu0 = _cpu_seconds(proc.pid)
        started = time.monotonic()
        with httpx.Client(base_url=api.base_url, timeout=10) as client:
            for n in range(seconds):
                for feed in feeds:
                    payload = flat_payload(feed.next_snapshot(), feed.endpoint)
                    sent = time.monotonic()
                    response = client.post("/gex", content=json.dumps(payload), headers=headers)
                    if response.status_code == 202:
                        key = (feed.ticker, feed.endpoint, int(payload["timestamp"]) * 1000)
                        watch.posted[key] = sent
                time.sleep(max(0.0, started + n + 1 - time.monotonic()))
        cpu = _cpu_seconds(proc.pid) - cpu0
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 30
        while len(watch.visible.keys() & watch.posted.keys()) < len(watch.posted):
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
    finally:
        watch.stop.set()
        if poller.is_alive():
            poller.join()
        api.stop()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
    delays = watch.delays()
    return {
        "p50": _percentile(delays, 0.5),
        "p95": _percentile(delays, 0.95),
        "max": max(delays) if delays else float("nan"),
        "lost": float(len(watch.posted) - len(delays)) if watch.posted else float("nan"),
        "cpu_pct": 100 * cpu / elapsed,
        "flush": default_flush_seconds(settings_lake(Settings.from_env(env))),
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
        ("post -> row readable in lake p50 (s)", "p50", "{:.2f}"),
        ("post -> row readable in lake p95 (s)", "p95", "{:.2f}"),
        ("post -> row readable in lake max (s)", "max", "{:.2f}"),
        ("snapshots never seen", "lost", "{:.0f}"),
        ("loader CPU (% of one core)", "cpu_pct", "{:.1f}"),
    ]
    local, shared = live["local lake"], live["object storage"]
    for name, key, fmt in rows:
        print(f"{name:38s}{fmt.format(local[key]):>16s}{fmt.format(shared[key]):>18s}")
    day_local = statistics.median(imports["local lake"])
    day_shared = statistics.median(imports["object storage"])
    print(f"{'per-day import, median of 3 (s)':38s}{day_local:>16.2f}{day_shared:>18.2f}")
    print(
        f"\npost -> row p95 {shared['p95']:.2f} s on object storage (goal <= 5 s:"
        f" {'met' if shared['p95'] <= 5 else 'MISSED'});"
        f" import {day_shared / day_local:.2f}x the local figure (goal <= 1.5x:"
        f" {'met' if day_shared <= 1.5 * day_local else 'MISSED'})"
    )
