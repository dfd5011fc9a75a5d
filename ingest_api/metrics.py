"""Process-local Prometheus metrics of the ingest API, rendered as the text exposition format.

Hand-rolled (a few counters and one histogram) to keep the hot path free of locks and a dependency.
Labels never carry request data: endpoints and reasons come from fixed sets.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

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


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    """Counters of accepted/refused requests, staged bytes and the ack latency histogram."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.staged_bytes: Counter[str] = Counter()
        self.latency: dict[str, _Histogram] = {}
        self.preflights: Counter[str] = Counter()

    def accept(self, endpoint: str, stream: str, records: int, nbytes: int, seconds: float) -> None:
        """Count one acknowledged request and its latency from arrival to durable."""
        self.accepted[endpoint] += 1
        self.records[endpoint] += records
        self.staged_bytes[stream] += nbytes
        self.latency.setdefault(endpoint, _Histogram()).observe(seconds)

    def ignore(self, endpoint: str, count: int = 1) -> None:
        """Count control frames acknowledged and dropped."""
        self.ignored[endpoint] += count

    def reject(self, endpoint: str, status: int) -> None:
        """Count one refused request."""
        self.rejected[(endpoint, reason_for(status))] += 1

    def preflight(self, allowed: bool) -> None:
        """Count one CORS preflight answered (allowed) or refused."""
        self.preflights["allowed" if allowed else "refused"] += 1

    def render(self, staging_dir: Path, pending: Mapping[str, int]) -> str:
        """The Prometheus text exposition; `pending` maps each stream to its unacknowledged records."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("gex_ingest_accepted_total", "counter", "Requests acknowledged (2xx) per endpoint.")
        for endpoint, n in sorted(self.accepted.items()):
            out.append(f'gex_ingest_accepted_total{{endpoint="{endpoint}"}} {n}')
        family("gex_ingest_records_total", "counter", "Records staged per endpoint.")
        for endpoint, n in sorted(self.records.items()):
            out.append(f'gex_ingest_records_total{{endpoint="{endpoint}"}} {n}')
        family("gex_ingest_ignored_total", "counter", "Control frames acknowledged and dropped.")
        for endpoint, n in sorted(self.ignored.items()):
            out.append(f'gex_ingest_ignored_total{{endpoint="{endpoint}"}} {n}')
        family("gex_ingest_rejected_total", "counter", "Requests refused per endpoint and reason.")
        for (endpoint, reason), n in sorted(self.rejected.items()):
            out.append(f'gex_ingest_rejected_total{{endpoint="{endpoint}",reason="{reason}"}} {n}')
        family("gex_ingest_preflights_total", "counter", "Browser CORS preflights by result.")
        for result, n in sorted(self.preflights.items()):
            out.append(f'gex_ingest_preflights_total{{result="{result}"}} {n}')
        family("gex_ingest_staged_bytes_total", "counter", "Bytes made durable per stream.")
        for stream, n in sorted(self.staged_bytes.items()):
            out.append(f'gex_ingest_staged_bytes_total{{stream="{stream}"}} {n}')
        family("gex_ingest_ack_seconds", "histogram", "Arrival to durable acknowledgement.")
        for endpoint, hist in sorted(self.latency.items()):
            cumulative = 0
            for bound, n in zip((*LATENCY_BUCKETS, "+Inf"), hist.counts, strict=True):
                cumulative += n
                out.append(
                    f'gex_ingest_ack_seconds_bucket{{endpoint="{endpoint}",le="{bound}"}} '
                    f"{cumulative}"
                )
            out.append(f'gex_ingest_ack_seconds_sum{{endpoint="{endpoint}"}} {hist.total:.6f}')
            out.append(f'gex_ingest_ack_seconds_count{{endpoint="{endpoint}"}} {cumulative}')
        family("gex_ingest_pending_records", "gauge", "Records queued or being written.")
        for stream, n in sorted(pending.items()):
            out.append(f'gex_ingest_pending_records{{stream="{stream}"}} {n}')
        family("gex_staging_segments", "gauge", "Segment files per stream and state (all workers).")
        for stream in sorted(pending):
            dirs = stream_dirs(staging_dir, stream)
            for state, folder, suffix in (
                ("open", dirs.open, OPEN_SUFFIX),
                ("sealed", dirs.sealed, SEALED_SUFFIX),
            ):
                out.append(
                    f'gex_staging_segments{{stream="{stream}",state="{state}"}} '
                    f"{_count(folder, suffix)}"
                )
        return "\n".join(out) + "\n"


def _count(folder: Path, suffix: str) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(suffix))
    except FileNotFoundError:
        return 0
