"""Generating a full history day file (23,400 snapshots x 100 strikes, gzip) with the demo generator.

Bounded: one full day per ticker shape (index strikes, futures strikes). Target: well under a
minute each. Run: `python -m benchmarks demo_day_file`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.machine import describe
from gex_pipeline.cli.demo.history_day import make_day_file


def main() -> None:
    """Print seconds, records, compressed size and uncompressed throughput per full day file."""
    print(describe())
    for ticker in ("SPX", "NQ_NDX"):
        with tempfile.TemporaryDirectory(prefix="gex-bench-") as out:
            started = time.perf_counter()
            day = make_day_file(Path(out), "2025-11-14", ticker, snapshots=None)
            seconds = time.perf_counter() - started
            m = day.manifest
            rows = m.records * m.strikes_per_snapshot
            print(
                f"{ticker:7s} full day: {seconds:5.1f} s, {m.records} snapshots, "
                f"{rows / seconds / 1e6:.2f} M strike rows/s, {m.bytes / 2**20:.1f} MiB gzip"
            )
