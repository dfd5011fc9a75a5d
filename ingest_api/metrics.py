"""Prometheus metrics of the ingest API (`GET /metrics`), on `prometheus_client`.

One registry per app (per uvicorn worker): the request counters and the ack latency histogram of
this worker, the staging gauges read at each scrape, and the text files the live loader and the
pipeline's runs publish under `$GEX_DATA_DIR/metrics/` (`lib/metrics/textfiles.py`), so one
scrape address covers the stack. Labels never carry request data: endpoints and reasons come from
fixed sets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from gex_pipeline.lib.metrics.registry import counter, histogram, new_registry
from gex_pipeline.lib.metrics.textfiles import TextfileCollector
from gex_pipeline.lib.staging.layout import OPEN_SUFFIX, SEALED_SUFFIX, stream_dirs

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip

REASONS_BY_STATUS: dict[int, str] = {
    400: "invalid_json",
    401: "unauthorized",
    404: "not_found",
    408: "timeout",
    409: "failed_link",
    413: "too_large",
    415: "unsupported_encoding",
    421: "wrong_host",
    422: "invalid",
    429: "rate_limited",
    499: "client_disconnected",
    503: "unavailable",
}


def reason_for(status: int) -> str:
    """The `reason` label of a refused request with HTTP `status`."""
    return REASONS_BY_STATUS.get(status, f"http_{status}")


class StagingCollector:
    """Records waiting in this worker's writers and segment files per stream and state (all
    workers), read at each scrape."""

    def __init__(self, staging_dir: Path, pending: Callable[[], Mapping[str, int]]) -> None:
        self.staging_dir = staging_dir
        self.pending = pending

    def describe(self) -> list[Metric]:
        """The two gauge families, without values."""
        return list(self._families({}))

    def collect(self) -> Iterator[Metric]:
        """The gauges now."""
        yield from self._families(self.pending())

    def _families(self, pending: Mapping[str, int]) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "gex_ingest_pending_records", "Records queued or being written.", labels=["stream"]
        )
        segments = GaugeMetricFamily(
            "gex_staging_segments",
            "Segment files per stream and state (all workers).",
            labels=["stream", "state"],
        )
        for stream, n in sorted(pending.items()):
            queued.add_metric([stream], n)
            dirs = stream_dirs(self.staging_dir, stream)
            segments.add_metric([stream, "open"], _count(dirs.open, OPEN_SUFFIX))
            segments.add_metric([stream, "sealed"], _count(dirs.sealed, SEALED_SUFFIX))
        yield queued
        yield segments


class Metrics:
    """The API's registry: request counters, ack latency, staging gauges, published files."""

    def __init__(
        self, staging_dir: Path, metrics_dir: Path, pending: Callable[[], Mapping[str, int]]
    ) -> None:
        self.registry = r = new_registry()
        self.accepted = counter(
            r, "gex_ingest_accepted", "Requests acknowledged (2xx) per endpoint.", "endpoint"
        )
        self.records = counter(r, "gex_ingest_records", "Records staged per endpoint.", "endpoint")
        self.ignored = counter(
            r, "gex_ingest_ignored", "Control frames acknowledged and dropped.", "endpoint"
        )
        self.rejected = counter(
            r,
            "gex_ingest_rejected",
            "Requests refused per endpoint and reason.",
            "endpoint",
            "reason",
        )
        self.staged_bytes = counter(
            r, "gex_ingest_staged_bytes", "Bytes made durable per stream.", "stream"
        )
        self.ack_seconds = histogram(
            r,
            "gex_ingest_ack_seconds",
            "Arrival to durable acknowledgement.",
            LATENCY_BUCKETS,
            "endpoint",
        )
        self.preflights = counter(
            r, "gex_ingest_preflights", "Browser CORS preflights by result.", "result"
        )
        self._accept_children: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}
        r.register(StagingCollector(staging_dir, pending))
        r.register(TextfileCollector(metrics_dir))

    def preflight(self, allowed: bool) -> None:
        """Count one CORS preflight answered (allowed) or refused."""
        self.preflights.labels("allowed" if allowed else "refused").inc()

    def accept(self, endpoint: str, stream: str, records: int, nbytes: int, seconds: float) -> None:
        """Count one acknowledged request and its latency from arrival to durable."""
        key = (endpoint, stream)
        children = self._accept_children.get(key)
        if children is None:  # `labels()` costs ~5 us a call: looked up once per endpoint
            children = self._accept_children[key] = (
                self.accepted.labels(endpoint),
                self.records.labels(endpoint),
                self.staged_bytes.labels(stream),
                self.ack_seconds.labels(endpoint),
            )
        accepted, staged_records, staged_bytes, ack_seconds = children
        accepted.inc()
        staged_records.inc(records)
        staged_bytes.inc(nbytes)
        ack_seconds.observe(seconds)

    def ignore(self, endpoint: str, count: int = 1) -> None:
        """Count control frames acknowledged and dropped."""
        self.ignored.labels(endpoint).inc(count)

    def reject(self, endpoint: str, status: int) -> None:
        """Count one refused request."""
        self.rejected.labels(endpoint, reason_for(status)).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of everything above."""
        return generate_latest(self.registry)


def _count(folder: Path, suffix: str) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(suffix))
    except FileNotFoundError:
        return 0
