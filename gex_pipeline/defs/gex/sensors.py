"""Sensors of the GEX domain. They never open DuckDB.

- `gex_live_sensor`: lists sealed /gex segments above its cursor (the last seq requested) and asks
  for one `gex_live_job` run covering all of them, registering new feeds in the same tick.
- `gex_parquet_export_sensor`: follows `gex_strikes` materializations and exports a partition once
  it has been quiet (no new data) for `GEX_EXPORT_QUIET_SECONDS`, e.g. after the session closes.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import dagster as dg

from gex_pipeline.defs.gex.assets import GEX_PARQUET, GEX_STRIKES, LIVE_BATCH
from gex_pipeline.defs.gex.jobs import gex_integrity_job, gex_live_job, gex_parquet_job
from gex_pipeline.defs.live import LiveStream, live_run, live_run_key, retry_stale
from gex_pipeline.defs.partitions import (
    FEED_PARTITIONS_NAME,
    feed_partitions,
    parse_gex_partition_key,
)
from gex_pipeline.defs.resources import StagingArea
from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.staging.layout import GEX_STREAM

EVENTS_PER_TICK = 1000


GEX_LIVE = LiveStream(GEX_STREAM, LIVE_BATCH, "gex_live")


def _valid_feed_keys(context: dg.SensorEvaluationContext, feeds: set[tuple[str, str]]) -> set[str]:
    keys = set()
    for ticker, endpoint in feeds:
        try:
            keys.add(feed_key(ticker, endpoint))
        except ValueError as exc:
            context.log.warning("ignoring feed of a staged record: %s", exc)
    return keys


def build_live_sensor(settings: PipelineSettings) -> dg.SensorDefinition:
    """The live sensor, ticking every `settings.live_sensor_interval_seconds`."""

    @dg.sensor(
        name="gex_live_sensor",
        job=gex_live_job,
        minimum_interval_seconds=settings.live_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One gex_live_job run per tick for every new sealed /gex segment.",
    )
    def gex_live_sensor(
        context: dg.SensorEvaluationContext, staging: StagingArea
    ) -> dg.SensorResult | dg.SkipReason:
        after = int(context.cursor or 0)
        segments = staging.list_sealed(GEX_STREAM, after, settings.live_max_segments_per_run)
        if not segments:
            return retry_stale(staging, after, settings.live_stale_seconds, GEX_LIVE)
        feeds: set[tuple[str, str]] = set()
        for segment in segments:
            feeds |= staging.feeds(segment)
        known = set(context.instance.get_dynamic_partitions(FEED_PARTITIONS_NAME))
        new_feeds = sorted(_valid_feed_keys(context, feeds) - known)
        lower, upper = segments[0].seq, segments[-1].seq
        run_key = live_run_key(lower, upper, GEX_LIVE.run_key_prefix)
        run = live_run(run_key, lower, upper, len(segments), GEX_LIVE)
        requests = [feed_partitions.build_add_request(new_feeds)] if new_feeds else []
        return dg.SensorResult(
            run_requests=[run], dynamic_partitions_requests=requests, cursor=str(upper)
        )

    return gex_live_sensor


@dataclass
class ExportCursor:
    """Last `gex_strikes` event seen and the partitions changed since their last export."""

    after_storage_id: int = 0
    pending: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> Self:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data["after"]), {k: float(v) for k, v in data["pending"].items()})

    def dump(self) -> str:
        return json.dumps({"after": self.after_storage_id, "pending": self.pending}, sort_keys=True)


def due_partitions(pending: Mapping[str, float], now: float, quiet_seconds: int) -> list[str]:
    """Partitions whose last change is at least `quiet_seconds` old, sorted."""
    return sorted(key for key, changed in pending.items() if now - changed >= quiet_seconds)


def exported_since(instance: dg.DagsterInstance, partition: str, changed: float) -> bool:
    """True when `gex_parquet` was materialized for `partition` after its last change (a table
    rebuild or history import exports in its own run: no second export)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(GEX_PARQUET, asset_partitions=[partition]), limit=1
    ).records
    return bool(records) and records[0].timestamp >= changed


def build_export_sensor(settings: PipelineSettings) -> dg.SensorDefinition:
    """The export sensor, ticking every `settings.export_sensor_interval_seconds`."""

    @dg.sensor(
        name="gex_parquet_export_sensor",
        job=gex_parquet_job,
        minimum_interval_seconds=settings.export_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Exports a date x feed partition to Parquet once its data stopped changing.",
    )
    def gex_parquet_export_sensor(
        context: dg.SensorEvaluationContext,
    ) -> dg.SensorResult:
        cursor = ExportCursor.parse(context.cursor)
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(GEX_STRIKES, after_storage_id=cursor.after_storage_id or None),
            limit=EVENTS_PER_TICK,
            ascending=True,
        ).records
        for record in records:
            partition = record.partition_key
            if partition:
                cursor.pending[partition] = max(
                    cursor.pending.get(partition, 0.0), record.timestamp
                )
            cursor.after_storage_id = max(cursor.after_storage_id, record.storage_id)
        due = due_partitions(cursor.pending, time.time(), settings.export_quiet_seconds)
        requests = [
            dg.RunRequest(run_key=f"gex_parquet:{key}:{cursor.pending[key]}", partition_key=key)
            for key in due
            if not exported_since(context.instance, key, cursor.pending[key])
        ]
        for key in due:
            del cursor.pending[key]
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor.dump())
        reason = (
            f"{len(cursor.pending)} changed partition(s) waiting for "
            f"{settings.export_quiet_seconds}s without new data"
            if cursor.pending
            else "no gex_strikes partition changed since its last export"
        )
        return dg.SensorResult(skip_reason=reason, cursor=cursor.dump())

    return gex_parquet_export_sensor


PARTITION_TAG = "dagster/partition"
INTEGRITY_EVENTS_PER_TICK = 200


def integrity_run_request(partition_key: str, run_key: str | None = None) -> dg.RunRequest:
    """A `gex_integrity_job` run over one date x feed partition."""
    parse_gex_partition_key(partition_key)
    return dg.RunRequest(run_key=run_key, tags={PARTITION_TAG: partition_key})


@dg.sensor(
    name="gex_integrity_sensor",
    job=gex_integrity_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the integrity checks of every partition exported to Parquet.",
)
def gex_integrity_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """One `gex_integrity_job` run per new `gex_parquet` materialization (cursor: storage id)."""
    after = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(GEX_PARQUET, after_storage_id=after or None),
        limit=INTEGRITY_EVENTS_PER_TICK,
        ascending=True,
    ).records
    latest: dict[str, int] = {}
    for record in records:
        if record.partition_key:
            latest[record.partition_key] = record.storage_id
        after = max(after, record.storage_id)
    requests = [
        integrity_run_request(key, f"gex_integrity:{key}:{storage_id}")
        for key, storage_id in sorted(latest.items())
    ]
    if not requests:
        return dg.SensorResult(
            skip_reason=f"no partition exported to Parquet after event {after}", cursor=str(after)
        )
    return dg.SensorResult(run_requests=requests, cursor=str(after))


def build_gex_sensors(settings: PipelineSettings) -> list[dg.SensorDefinition]:
    """Every sensor of the GEX domain."""
    return [build_live_sensor(settings), build_export_sensor(settings), gex_integrity_sensor]
