"""Sensors of the GEX domain. They never open DuckDB.

- `gex_parquet_export_sensor`: follows `gex_strikes` materializations and exports a partition once
  it has been quiet (no new data) for `GEX_EXPORT_QUIET_SECONDS`, e.g. after the session closes.
- `gex_freshness_sensor` (freshness.py): flags a live feed that goes quiet during the session.
Every run that materializes a table partition (import, rebuild, backfill, export) runs its
integrity checks in the same run; no sensor launches check runs.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import dagster as dg

from gex_pipeline.defs.gex.freshness import build_freshness_sensor
from gex_pipeline.defs.gex.jobs import gex_parquet_job
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_STRIKES
from gex_pipeline.settings import PipelineSettings

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


def build_gex_sensors(settings: PipelineSettings) -> list[dg.SensorDefinition]:
    """Every sensor of the GEX domain."""
    return [
        build_export_sensor(settings),
        build_freshness_sensor(settings),
    ]
