"""Benchmark smoke for CI: a few seconds, ratios that hold on a noisy machine, non-zero exit on a
regression. Each figure is measured beside its baseline in the same run:

1. ingest: durable (fsync, group commit) vs the unsafe no-fsync `/gex` throughput through uvicorn
   (a per-request fsync would sink it);
2. history: importing a day file (parse + validate + replace) vs DuckDB's raw `read_json` + `UNNEST`
   of the same file;
3. runs per tick: every sensor of the code location ticked over simulated live arrival (10 feeds x
   1 Hz); live loading must launch at most `MAX_LIVE_RUNS_PER_TICK` runs per tick.

The full figures are `make bench`; this is `python -m benchmarks smoke` (run by `.ci/run`).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.ingest import CONNECTIONS, _Server, gex_payload
from benchmarks.machine import describe

# Thresholds: far from today's figures (see the decision record), close enough to catch a lost
# group commit, a Python loop over rows, or runs launched per feed or per segment.
MIN_DURABLE_SHARE = 0.35  # durable / no-fsync req/s
MAX_IMPORT_RATIO = 4.0  # import seconds / raw parse seconds
# Live data is loaded by the live loader outside runs (issue 8): no sensor launches a run for it.
MAX_LIVE_RUNS_PER_TICK = 0.0
MIN_STAGING_SHARE = 0.10  # durable / no-fsync appends of the staging writer
INGEST_SECONDS = 1.5
STAGING_SECONDS = 1.0
STAGING_CLIENTS = 200
ROUNDS = 2


async def _rps(url: str, body: bytes, seconds: float) -> float:
    done = 0
    stop_at = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            answer = await client.post(url, content=body)
            if answer.status_code >= 300:
                raise RuntimeError(f"{url}: HTTP {answer.status_code} {answer.text[:200]}")
            done += 1

    started = time.monotonic()
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONNECTIONS)))
    return done / (time.monotonic() - started)


def ingest_share(work: Path) -> float:
    """Best-of durable req/s over best-of no-fsync req/s for `/gex` (150 strikes)."""
    servers = {
        "no-fsync": _Server(work / "nofsync", GEX_INGEST_FSYNC="0"),
        "durable": _Server(work / "durable"),
    }
    best: dict[str, float] = {}
    try:
        body = gex_payload()
        for _ in range(ROUNDS):
            for mode, server in servers.items():
                rps = asyncio.run(_rps(f"{server.url}/gex", body, INGEST_SECONDS))
                best[mode] = max(best.get(mode, 0.0), rps)
    finally:
        for server in servers.values():
            server.stop()
    print(
        f"ingest /gex: durable {best['durable']:.0f} req/s, no-fsync {best['no-fsync']:.0f} req/s"
    )
    return best["durable"] / best["no-fsync"]


async def _appends_per_second(work: Path, fsync: bool, seconds: float) -> float:
    from gex_pipeline.lib.staging.layout import stream_dirs
    from gex_pipeline.lib.staging.writer import SegmentWriter

    writer = SegmentWriter(
        stream_dirs(work / ("durable" if fsync else "nofsync"), "gex"), fsync=fsync
    )
    await writer.start()
    line = gex_payload(20) + b"\n"
    done = 0
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await writer.append(line)
            done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(client() for _ in range(STAGING_CLIENTS)))
    finally:
        await writer.aclose()
    return done / (time.monotonic() - started)


def staging_share(work: Path) -> float:
    """Group commit without HTTP: durable appends/s of the staging writer over no-fsync appends/s,
    with `STAGING_CLIENTS` concurrent writers (one fsync per append would sink it)."""
    best = {True: 0.0, False: 0.0}
    for _ in range(ROUNDS):
        for fsync in (False, True):
            rate = asyncio.run(_appends_per_second(work / "writer", fsync, STAGING_SECONDS))
            best[fsync] = max(best[fsync], rate)
    print(
        f"staging writer: durable {best[True]:.0f} appends/s, no-fsync {best[False]:.0f} appends/s"
    )
    return best[True] / best[False]


def import_ratio(work: Path) -> float:
    """Best-of import seconds (into the lake, from the kept raw file, Parquet export included)
    over best-of raw parse seconds of the same day file."""
    from datetime import date

    from benchmarks.history import run_raw
    from gex_pipeline.cli.demo.history_day import make_day_file
    from gex_pipeline.lib.gex.feed_day import FeedDay
    from gex_pipeline.lib.history.partition_import import import_partition
    from gex_pipeline.lib.history.sources import raw_dir
    from gex_pipeline.lib.lake.store import TableStore
    from gex_pipeline.settings import Settings

    day = make_day_file(
        work / "files", "2025-11-14", "SPX", "gex_zero", snapshots=1500, strikes=100
    )
    raw = imported = float("inf")
    for n in range(ROUNDS):
        raw = min(raw, run_raw(day.path, work / f"raw{n}.db")["seconds"])
        os.environ["GEX_DATA_DIR"] = str(work / f"import{n}")
        settings = Settings.from_env()
        folder = raw_dir(settings.paths.source_dir, "SPX", "gex_zero")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / day.path.name).write_bytes(day.path.read_bytes())
        started = time.perf_counter()
        import_partition(
            FeedDay(date(2025, 11, 14), "SPX", "gex_zero"),
            store=TableStore.from_paths(settings.paths),
            paths=settings.paths,
            history=settings.history,
            parquet_root=settings.paths.parquet_dir,
        )
        imported = min(imported, time.perf_counter() - started)
    print(f"history: import {imported:.2f} s, raw parse {raw:.2f} s (150,000 strike rows)")
    return imported / raw


def live_runs_per_tick(work: Path, seconds: int = 120, tick: int = 15) -> float:
    """Run requests of every (non run-status) sensor per tick while live segments arrive."""
    import dagster as dg

    from benchmarks.pipeline import SEAL_SECONDS, write_segments
    from gex_pipeline.definitions import defs
    from gex_pipeline.lib.staging.layout import GEX_STREAM, stream_dirs

    os.environ["GEX_DATA_DIR"] = str(work / "data")
    repository = defs().get_repository_def()
    sealed = stream_dirs(work / "data" / "staging", GEX_STREAM).ensure().sealed
    segments = write_segments(sealed, seconds, strikes=5)
    for segment in segments:  # hidden until sealed at its simulated time
        segment.path.rename(segment.path.with_suffix(".hold"))
    sensors = [s for s in repository.sensor_defs if not isinstance(s, dg.RunStatusSensorDefinition)]
    cursors: dict[str, str | None] = {s.name: None for s in sensors}
    resources = repository.get_top_level_resources()
    runs = ticks = revealed = 0
    with dg.instance_for_test() as instance:
        for now in range(tick, seconds + 1, tick):
            while revealed < len(segments) and (revealed + 1) * SEAL_SECONDS <= now:
                path = segments[revealed].path
                path.with_suffix(".hold").rename(path)
                revealed += 1
            ticks += 1
            for sensor in sensors:
                context = dg.build_sensor_context(
                    instance=instance,
                    cursor=cursors[sensor.name],
                    resources=resources,
                    repository_def=repository,
                )
                data = sensor.evaluate_tick(context)
                runs += len(data.run_requests or [])
                cursors[sensor.name] = data.cursor
                for request in data.dynamic_partitions_requests or []:
                    instance.add_dynamic_partitions(
                        request.partitions_def_name, request.partition_keys
                    )
    print(f"sensors: {runs} run requests in {ticks} ticks of {len(sensors)} sensors")
    return runs / ticks


def main() -> None:
    """Measure the three ratios and exit 1 when one misses its threshold."""
    print(describe())
    failures = []
    with tempfile.TemporaryDirectory(prefix="gex-smoke-") as tmp:
        work = Path(tmp)
        checks = (
            ("durable / no-fsync ingest", ingest_share(work), ">=", MIN_DURABLE_SHARE),
            ("durable / no-fsync staging", staging_share(work), ">=", MIN_STAGING_SHARE),
            ("import / raw parse", import_ratio(work), "<=", MAX_IMPORT_RATIO),
            ("live runs per tick", live_runs_per_tick(work), "<=", MAX_LIVE_RUNS_PER_TICK),
        )
    for name, value, op, limit in checks:
        ok = value >= limit if op == ">=" else value <= limit
        print(f"{name}: {value:.2f} (must be {op} {limit}): {'ok' if ok else 'REGRESSION'}")
        if not ok:
            failures.append(name)
    if failures:
        raise SystemExit(f"benchmark smoke failed: {', '.join(failures)}")


if __name__ == "__main__":
    main()
