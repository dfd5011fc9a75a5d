"""Metrics of the live loader: batches, segments, records, rejected segments, lag, backlog.

The loader (one process) keeps them in its own registry and writes `<metrics_dir>/loader.prom`
at most once a second while they change, and every `IDLE_PUBLISH_SECONDS` otherwise (the
`gex_live_published_timestamp_seconds` gauge then tells a stopped loader from an idle one).
A restarted loader counts from zero again, which Prometheus' `rate()` reads as a counter reset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gex_pipeline.lib.metrics.registry import counter, gauge, histogram, new_registry
from gex_pipeline.lib.metrics.textfiles import write_textfile
from gex_pipeline.lib.staging.layout import seq_of

log = logging.getLogger(__name__)

LOADER_FILE = "loader.prom"
PUBLISH_EVERY_SECONDS = 1.0
IDLE_PUBLISH_SECONDS = 15.0
LAG_BUCKETS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class LoaderMetrics:
    """The loader's series; `path` None keeps them in memory only (tests, tools)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.registry = r = new_registry()
        self.batches = counter(r, "gex_live_batches", "Micro-batches committed.", "stream")
        self.segments = counter(r, "gex_live_segments", "Sealed segments loaded.", "stream")
        self.records = counter(r, "gex_live_records", "Staged records committed.", "stream")
        self.rejected = counter(
            r, "gex_live_rejected_segments", "Segments set aside in rejected/ (bad data).", "stream"
        )
        self.lag = histogram(
            r,
            "gex_live_lag_seconds",
            "From a segment's sealing to the commit of its batch; its records arrived at most "
            "GEX_INGEST_SEAL_AGE_MS before the sealing.",
            LAG_BUCKETS,
            "stream",
        )
        self.backlog = gauge(
            r, "gex_live_backlog_segments", "Sealed segments waiting at the last cycle.", "stream"
        )
        self.published = gauge(
            r, "gex_live_published_timestamp_seconds", "When the loader last wrote these figures."
        )
        self._dirty = True
        self._published_at = float("-inf")
        self._backlog: dict[str, int] = {}

    def batch(self, stream: str, loaded: Sequence[str], records: int, rejected: int) -> None:
        """Count one committed batch: the names of the segments it loaded, its records, and
        the segments set aside."""
        now_ns = time.time_ns()
        self.batches.labels(stream).inc()
        self.segments.labels(stream).inc(len(loaded))
        self.records.labels(stream).inc(records)
        self.rejected.labels(stream).inc(rejected)
        for name in loaded:
            if (seq := seq_of(name)) is not None:
                self.lag.labels(stream).observe(max(0.0, (now_ns - seq) / 1e9))
        self._dirty = True

    def publish(self, backlog: Mapping[str, int], now: float) -> None:
        """Set the backlog and write the file when due."""
        if backlog != self._backlog:
            self._backlog = dict(backlog)
            for stream, waiting in backlog.items():
                self.backlog.labels(stream).set(waiting)
            self._dirty = True
        since = now - self._published_at
        due = since >= IDLE_PUBLISH_SECONDS or (self._dirty and since >= PUBLISH_EVERY_SECONDS)
        if self.path is None or not due:
            return
        self.published.set(time.time())
        try:
            write_textfile(self.registry, self.path)
        except OSError as exc:
            log.warning("loader metrics not written to %s: %s", self.path, exc)
        self._published_at, self._dirty = now, False
