"""`gex-pipeline live-loader`: load `/gex` and `/uw` staging as it arrives, outside runs.

Commits each micro-batch to `gex_data.db` (the open partitions), mirrors it to the lake every
`GEX_LAKE_FLUSH_SECONDS` and seals the partitions of past dates into the lake when idle
(`lib/live/lake_sync.py`).

Runs until SIGTERM/SIGINT. Loads sealed segments every `GEX_LIVE_POLL_MS` (every second after 30 s
without data; one micro-batch per stream, `lib/live/loader.py`) and reports runtime
materializations of the table partitions it changed to the Dagster instance (`DAGSTER_HOME`), at
most once per `GEX_LIVE_REPORT_SECONDS` per partition. A failed cycle (e.g. a notebook holding the database) is retried with backoff; the
data stays sealed until it is committed. `gex-pipeline up` supervises this process.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.gex.live_load import (
    GexStreamLoad,
    PartitionStats,
    partition_of,
)
from gex_pipeline.lib.lake.remote import lake_of
from gex_pipeline.lib.live.lake_sync import LakeSync, default_flush_seconds
from gex_pipeline.lib.live.loader import LiveLoader, LiveStream
from gex_pipeline.lib.live.throttle import ReportThrottle
from gex_pipeline.lib.metrics.loader import LOADER_FILE, LoaderMetrics
from gex_pipeline.lib.staging.layout import GEX_STREAM
from gex_pipeline.lib.webhooks.live_load import DayStats, UwStreamLoad
from gex_pipeline.settings import LakeSettings, PathSettings, PipelineSettings, Settings

if TYPE_CHECKING:
    import dagster as dg
    import duckdb

log = logging.getLogger("gex_pipeline.live_loader")

MAX_BACKOFF_SECONDS = 30.0
# After this long without a segment the loader polls every IDLE_POLL_SECONDS instead of every
# GEX_LIVE_POLL_MS (a quiet stack pays for every wake-up; the first segment after a pause waits
# at most this much longer).
IDLE_AFTER_SECONDS = 30.0
IDLE_POLL_SECONDS = 1.0


def poll_seconds(poll_ms: int, idle_for: float) -> float:
    """The wait before the next cycle: `poll_ms` while data flows, slower once idle."""
    busy = poll_ms / 1000
    return busy if idle_for < IDLE_AFTER_SECONDS else max(busy, IDLE_POLL_SECONDS)


@dataclass
class DagsterPublisher:
    """Reports the loader's figures as runtime materializations of the table assets."""

    instance: dg.DagsterInstance

    def events(self, stream: str, con: duckdb.DuckDBPyConnection, stats: list[Any]) -> list[Any]:
        """Materializations of the released figures (counts and previews read now)."""
        if stream == GEX_STREAM:
            from gex_pipeline.defs.gex.live_reports import gex_materializations

            self._register_feeds(stats)
            return gex_materializations(con, stats)
        from gex_pipeline.defs.webhooks.live_reports import webhook_materializations

        return webhook_materializations(con, stats)

    def publish(self, events: list[Any]) -> None:
        """Store the events in the instance's event log (no run)."""
        for event in events:
            self.instance.report_runless_asset_event(event)

    def _register_feeds(self, stats: Sequence[PartitionStats]) -> None:
        from gex_pipeline.defs.partitions import FEED_PARTITIONS_NAME

        feeds = {feed_key(p.ticker, p.endpoint) for p in stats}
        known = set(self.instance.get_dynamic_partitions(FEED_PARTITIONS_NAME))
        if feeds - known:
            self.instance.add_dynamic_partitions(FEED_PARTITIONS_NAME, sorted(feeds - known))


def build_loader(
    paths: PathSettings,
    pipeline: PipelineSettings,
    publisher: Any,
    lake: LakeSettings | None = None,
) -> LiveLoader:
    """The loader of both streams with their report throttles, mirroring into the lake `lake`
    describes (default `$GEX_DATA_DIR/lake`)."""
    interval = float(pipeline.live_report_seconds)
    target = lake_of(paths, lake or LakeSettings())
    flush = pipeline.lake_flush_seconds
    streams = [
        LiveStream(
            GexStreamLoad(),
            ReportThrottle[tuple, PartitionStats](partition_of, interval),
        ),
        LiveStream(
            UwStreamLoad(),
            ReportThrottle[Any, DayStats](lambda d: d.trade_date, interval),
        ),
    ]
    return LiveLoader(
        db_path=paths.duckdb_path,
        staging_dir=paths.staging_dir,
        streams=streams,
        publisher=publisher,
        max_segments=pipeline.live_max_segments_per_batch,
        retention_days=pipeline.staging_retention_days,
        status_path=paths.data_dir / "live" / "status.json",
        lake=LakeSync(
            target,
            flush_seconds=default_flush_seconds(target) if flush is None else flush,
            work_dir=paths.work_dir,
        ),
        metrics=LoaderMetrics(paths.metrics_dir / LOADER_FILE),
    )


def run_live_loader(settings: Settings) -> int:
    """Run the loader until SIGTERM/SIGINT; flush pending reports on the way out."""
    import dagster as dg

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from gex_pipeline.cli.migrate import ensure_migrated

    ensure_migrated(settings)
    pipeline = settings.pipeline
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with dg.DagsterInstance.get() as instance:
        loader = build_loader(settings.paths, pipeline, DagsterPublisher(instance), settings.lake)
        loader.recover()
        log.info("live loader started (poll %d ms)", pipeline.live_poll_ms)
        backoff = 0.0
        while not stop.is_set():
            try:
                loader.run_once()
                backoff = 0.0
            except Exception:
                loader.close()
                backoff = min(MAX_BACKOFF_SECONDS, max(1.0, backoff * 2))
                log.exception("live load cycle failed; retrying in %.0fs", backoff)
            stop.wait(backoff or poll_seconds(pipeline.live_poll_ms, loader.idle_for()))
        loader.flush()
        loader.close()
        loader.write_status()
    log.info("live loader stopped")
    return 0
