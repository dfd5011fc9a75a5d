"""Sensors of the GEX domain. They never open DuckDB.

- `gex_parquet_export_sensor`: follows `gex_strikes` materializations and exports a partition once
  it has been quiet (no new data) for `GEX_EXPORT_QUIET_SECONDS`, e.g. after the session closes.
- `gex_integrity_sensor`: runs the integrity checks of every partition exported to Parquet.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import dagster as dg

from gex_pipeline.defs.gex.assets import GEX_PARQUET, GEX_STRIKES
from gex_pipeline.defs.gex.jobs import gex_integrity_job, gex_parquet_job
from gex_pipeline.defs.partitions import (
    parse_gex_partition_key,
)
from gex_pipeline.defs.settings import PipelineSettings

EVENTS_PER_TICK = 1000


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
    return [build_export_sensor(settings), gex_integrity_sensor]
