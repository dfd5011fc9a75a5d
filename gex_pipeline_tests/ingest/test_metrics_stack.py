"""`GET /metrics` serves the figures the live loader and the pipeline's runs publish."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gex_pipeline.lib.metrics.loader import LOADER_FILE, LoaderMetrics
from gex_pipeline.lib.metrics.pipeline import record_partitions
from gex_pipeline_tests.support.metrics import sample


def test_metrics_serve_the_loader_and_pipeline_files(
    ingest_client: Callable, data_dir: Path
) -> None:
    loader = LoaderMetrics(data_dir / "metrics" / LOADER_FILE)
    loader.batch("gex", ["00000000000000000001.jsonl"], records=3, rejected=0)
    loader.publish({"gex": 0, "uw": 0}, now=0.0)
    record_partitions(["gex_parquet"], done=["SPX.gex_zero"])
    text = ingest_client().get("/metrics").text
    assert sample(text, "gex_live_records_total", stream="gex") == 3
    done = {"asset": "gex_parquet", "feed": "SPX.gex_zero", "result": "done"}
    assert sample(text, "gex_pipeline_partitions_total", **done) == 1


def test_a_malformed_metrics_file_is_skipped(ingest_client: Callable, data_dir: Path) -> None:
    (data_dir / "metrics").mkdir()
    (data_dir / "metrics" / "broken.prom").write_text("gex_x{ 1\n")
    answer = ingest_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "gex_ingest_pending_records" in answer.text
