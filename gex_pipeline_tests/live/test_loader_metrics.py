"""The live loader's metrics file: batches, segments, records, rejects, lag, backlog, bounded writes."""

from __future__ import annotations

from pathlib import Path

from gex_pipeline.lib.metrics.loader import LOADER_FILE, PUBLISH_EVERY_SECONDS
from gex_pipeline_tests.support.metrics import sample
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree


def _text(data_dir: Path) -> str:
    return (data_dir / "metrics" / LOADER_FILE).read_text()


def test_a_batch_is_counted_with_its_lag_rejects_and_backlog(
    loader, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record(), gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    gex_staging.seal([gex_staging.record("NQ_NDX", strikes={"not": "rows"})])
    loader.run_once()
    text = _text(data_dir)
    assert sample(text, "gex_live_batches_total", stream="gex") == 1
    assert sample(text, "gex_live_segments_total", stream="gex") == 1
    assert sample(text, "gex_live_records_total", stream="gex") == 2
    assert sample(text, "gex_live_rejected_segments_total", stream="gex") == 1
    assert sample(text, "gex_live_lag_seconds_count", stream="gex") == 1
    lag = sample(text, "gex_live_lag_seconds_sum", stream="gex")
    assert lag is not None and 0 <= lag < 60
    assert sample(text, "gex_live_backlog_segments", stream="gex") == 2
    assert sample(text, "gex_live_backlog_segments", stream="uw") == 0
    assert sample(text, "gex_live_published_timestamp_seconds") is not None


def test_the_file_is_rewritten_at_most_once_a_second_while_busy(
    loader, clock, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    def batches() -> float | None:
        return sample(_text(data_dir), "gex_live_batches_total", stream="gex")

    gex_staging.seal([gex_staging.record()])
    loader.run_once()
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    clock.now += PUBLISH_EVERY_SECONDS / 2
    loader.run_once()
    assert batches() == 1  # counted, not yet written
    clock.now += PUBLISH_EVERY_SECONDS
    loader.run_once()
    assert batches() == 2
