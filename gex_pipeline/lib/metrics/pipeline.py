"""Metrics of the pipeline's runs: partitions materialized or failed, last success per asset and
feed, check verdicts by check. Kept in `<metrics_dir>/pipeline.prom`, updated by each run under a
lock (`textfiles.update_textfile`), so the counters add up across runs and processes.

Recording never fails a run: an unwritable metrics directory is logged and skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from gex_pipeline.lib.metrics.registry import counter, gauge, new_registry
from gex_pipeline.lib.metrics.textfiles import update_textfile

log = logging.getLogger(__name__)

PIPELINE_FILE = "pipeline.prom"


class PipelineMetrics:
    """The pipeline's series in one registry, restorable from what the file held."""

    def __init__(self) -> None:
        self.registry = new_registry()
        r = self.registry
        self.partitions = counter(
            r,
            "gex_pipeline_partitions",
            "Partitions a run materialized (result=done) or could not build (result=failed) "
            "(imports: gex_strikes; exports: gex_parquet, option_trades_parquet).",
            *("asset", "feed", "result"),
        )
        self.last_success = gauge(
            r,
            "gex_pipeline_last_success_timestamp_seconds",
            "When a run last materialized a partition of the asset and feed.",
            *("asset", "feed"),
        )
        self.checks = counter(
            r, "gex_pipeline_check_evaluations", "Asset check verdicts of runs.", "check", "result"
        )

    def restore(self, families: Iterable[Metric]) -> None:
        """Continue from the values of a previous write."""
        counters = {
            "gex_pipeline_partitions": self.partitions,
            "gex_pipeline_check_evaluations": self.checks,
        }
        for family in families:
            for sample in family.samples:
                if family.name in counters and sample.name.endswith("_total"):
                    counters[family.name].labels(**sample.labels).inc(sample.value)
                elif family.name == "gex_pipeline_last_success_timestamp_seconds":
                    self.last_success.labels(**sample.labels).set(sample.value)


def _update(metrics_dir: Path | None, change: Callable[[PipelineMetrics], None]) -> None:
    """Apply `change` to the pipeline's file in `metrics_dir` (default: the environment's)."""
    if metrics_dir is None:
        from gex_pipeline.settings import Settings

        metrics_dir = Settings.from_env().paths.metrics_dir

    def build(families: list[Metric]) -> CollectorRegistry:
        metrics = PipelineMetrics()
        metrics.restore(families)
        change(metrics)
        return metrics.registry

    try:
        update_textfile(metrics_dir / PIPELINE_FILE, build)
    except OSError as exc:
        log.warning("pipeline metrics not recorded in %s: %s", metrics_dir, exc)


def record_partitions(
    assets: Sequence[str],
    done: Iterable[str],
    failed: Iterable[str] = (),
    metrics_dir: Path | None = None,
) -> None:
    """Count the partitions of `assets` a run built (`done`) or not (`failed`), given by feed
    (`SPX.gex_full`, `uw`), and stamp the last success of each built one."""
    done, failed = list(done), list(failed)

    def change(metrics: PipelineMetrics) -> None:
        now = time.time()
        for asset in assets:
            for feed in done:
                metrics.partitions.labels(asset, feed, "done").inc()
                metrics.last_success.labels(asset, feed).set(now)
            for feed in failed:
                metrics.partitions.labels(asset, feed, "failed").inc()

    if done or failed:
        _update(metrics_dir, change)


def record_checks(verdicts: Iterable[tuple[str, bool]], metrics_dir: Path | None = None) -> None:
    """Count check verdicts: `(check name, passed)` pairs."""
    verdicts = list(verdicts)

    def change(metrics: PipelineMetrics) -> None:
        for check, passed in verdicts:
            metrics.checks.labels(check, "passed" if passed else "failed").inc()

    if verdicts:
        _update(metrics_dir, change)
