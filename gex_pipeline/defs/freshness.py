"""What the freshness checks of every domain share: the latest report of an asset's partition,
whether a stream is watched, and the verdict Dagster records.

A feed or stream is watched once it reported today or on the previous session (so a feed that
stopped for good stops being flagged after a session); it is judged by
`gex_pipeline.lib.gex.freshness.judge_feed`. The domains' checks and the sensor that records them
live in `defs/gex/freshness.py` and `defs/webhooks/freshness.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg

from gex_pipeline.defs.metadata import freshness_metadata
from gex_pipeline.lib.calendar.sessions import previous_session
from gex_pipeline.lib.calendar.trading_date import date_key, trading_date_of
from gex_pipeline.lib.gex.freshness import FeedFreshness


def latest_record(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str
) -> dg.EventLogRecord | None:
    """The latest materialization of one partition of `asset`, or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset, asset_partitions=[partition]), limit=1, ascending=False
    ).records
    return records[0] if records else None


def latest_report_ms(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str
) -> int | None:
    """Epoch ms of the latest materialization of one partition of `asset`, or None."""
    record = latest_record(instance, asset, partition)
    return None if record is None else int(record.timestamp * 1000)


def watched_report(
    instance: dg.DagsterInstance,
    asset: dg.AssetKey,
    now_ms: int,
    partition_of: Callable[[str], str] = str,
) -> tuple[bool, int | None]:
    """Whether a stream is watched at `now_ms` (`asset` reported today or on the previous
    session) and its latest report today; `partition_of` maps a date key to the partition."""
    today = trading_date_of(now_ms)
    seen = latest_report_ms(instance, asset, partition_of(date_key(today)))
    before = previous_session(today)
    watched = seen is not None or (
        before is not None
        and latest_report_ms(instance, asset, partition_of(date_key(before.day))) is not None
    )
    return watched, seen


def _verdict(asset: dg.AssetKey, check_name: str, verdict: FeedFreshness) -> dict[str, Any]:
    return {
        "asset_key": asset,
        "check_name": check_name,
        "passed": not verdict.stale,
        "severity": dg.AssetCheckSeverity.WARN,
        "metadata": freshness_metadata(verdict),
    }


def freshness_evaluation(
    asset: dg.AssetKey, check_name: str, verdict: FeedFreshness, partition: str
) -> dg.AssetCheckEvaluation:
    """The freshness check evaluation of one verdict on one partition (WARN when stale)."""
    return dg.AssetCheckEvaluation(**_verdict(asset, check_name, verdict), partition=partition)


def freshness_result(
    asset: dg.AssetKey, check_name: str, verdict: FeedFreshness
) -> dg.AssetCheckResult:
    """The same verdict as the result of an asset check of the run's partition."""
    return dg.AssetCheckResult(**_verdict(asset, check_name, verdict))
