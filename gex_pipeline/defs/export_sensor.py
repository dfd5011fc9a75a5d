"""`parquet_export_sensor`: exports a table partition to Parquet once its data stopped changing.

One sensor for every published table (one tick instead of one per table: each sensor tick costs the
daemon and the code server about 0.1 s of CPU). For each `ExportTarget` it follows the watched
table's materializations and requests the export job for a partition once it has been quiet (no
new data) for `GEX_EXPORT_QUIET_SECONDS`, e.g. after the session closes; a partition already
exported after its last change (a table rebuild or an import exports in its own run) is skipped.
Materializations that run retention carried over (`defs/ops/run_retention.py`) are no change:
they are skipped, and an export counts at its original time. It never opens DuckDB.
"""

# No `from __future__ import annotations` here: Dagster reads the types from the annotations of
# decorated functions when the definitions load.
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import dagster as dg

from gex_pipeline.defs.gex.jobs import gex_parquet_job
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_STRIKES
from gex_pipeline.defs.ops.run_retention import event_time, is_carried_over
from gex_pipeline.defs.webhooks.assets import OPTION_TRADES_EVENTS
from gex_pipeline.defs.webhooks.jobs import option_trades_parquet_job
from gex_pipeline.defs.webhooks.parquet import OPTION_TRADES_PARQUET
from gex_pipeline.settings import PipelineSettings

EVENTS_PER_TICK = 1000


@dataclass(frozen=True)
class ExportTarget:
    """A published table: changes of `watched` are exported by `job` (whose output is `exported`)."""

    name: str
    watched: dg.AssetKey
    exported: dg.AssetKey
    job: dg.JobDefinition


TARGETS = (
    ExportTarget("gex", GEX_STRIKES, GEX_PARQUET, gex_parquet_job),
    ExportTarget(
        "option_trades", OPTION_TRADES_EVENTS, OPTION_TRADES_PARQUET, option_trades_parquet_job
    ),
)


@dataclass
class ExportCursor:
    """Last event of the watched table seen and the partitions changed since their last export."""

    after_storage_id: int = 0
    pending: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> Self:
        if not data:
            return cls()
        pending = data["pending"]
        assert isinstance(pending, dict)
        return cls(int(str(data["after"])), {k: float(v) for k, v in pending.items()})

    def to_json(self) -> dict[str, object]:
        return {"after": self.after_storage_id, "pending": self.pending}


def parse_cursor(raw: str | None) -> dict[str, ExportCursor]:
    """The sensor's cursor: one `ExportCursor` per target name."""
    data = json.loads(raw) if raw else {}
    return {t.name: ExportCursor.from_json(data.get(t.name)) for t in TARGETS}


def dump_cursor(cursors: Mapping[str, ExportCursor]) -> str:
    """Serialize `parse_cursor`'s result."""
    return json.dumps({name: c.to_json() for name, c in cursors.items()}, sort_keys=True)


def due_partitions(pending: Mapping[str, float], now: float, quiet_seconds: int) -> list[str]:
    """Partitions whose last change is at least `quiet_seconds` old, sorted."""
    return sorted(key for key, changed in pending.items() if now - changed >= quiet_seconds)


def exported_since(
    instance: dg.DagsterInstance, exported: dg.AssetKey, partition: str, changed: float
) -> bool:
    """True when `exported` was materialized for `partition` after its last change."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(exported, asset_partitions=[partition]), limit=1
    ).records
    return bool(records) and event_time(records[0]) >= changed


def handled_by_its_run(instance: dg.DagsterInstance, target: ExportTarget, partition: str) -> bool:
    """True when the last change of `partition` came from a run that also had the export in its
    plan (an import, a rebuild): that run exported it or recorded why not (a failed ERROR check),
    so the sensor neither exports it again nor repeats the verdict."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(target.watched, asset_partitions=[partition]), limit=1
    ).records
    if not records or not records[0].run_id:
        return False
    planned = instance.get_records_for_run(
        records[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
    ).records
    return any(
        r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.asset_key == target.exported
        for r in planned
    )


def follow_changes(
    instance: dg.DagsterInstance, watched: dg.AssetKey, cursor: ExportCursor
) -> None:
    """Record in `cursor` the partitions of `watched` materialized since its last event."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(watched, after_storage_id=cursor.after_storage_id or None),
        limit=EVENTS_PER_TICK,
        ascending=True,
    ).records
    for record in records:
        partition = record.partition_key
        if partition and not is_carried_over(record):
            cursor.pending[partition] = max(cursor.pending.get(partition, 0.0), record.timestamp)
        cursor.after_storage_id = max(cursor.after_storage_id, record.storage_id)


def export_requests(
    instance: dg.DagsterInstance, target: ExportTarget, cursor: ExportCursor, quiet_seconds: int
) -> list[dg.RunRequest]:
    """Run requests for `target`'s quiet partitions; they leave `cursor.pending`."""
    follow_changes(instance, target.watched, cursor)
    due = due_partitions(cursor.pending, time.time(), quiet_seconds)
    requests = [
        dg.RunRequest(
            run_key=f"{target.name}:{key}:{cursor.pending[key]}",
            job_name=target.job.name,
            partition_key=key,
        )
        for key in due
        if not exported_since(instance, target.exported, key, cursor.pending[key])
        and not handled_by_its_run(instance, target, key)
    ]
    for key in due:
        del cursor.pending[key]
    return requests


def build_export_sensor(settings: PipelineSettings) -> dg.SensorDefinition:
    """The export sensor, ticking every `settings.export_sensor_interval_seconds`."""

    @dg.sensor(
        name="parquet_export_sensor",
        jobs=[t.job for t in TARGETS],
        minimum_interval_seconds=settings.export_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Exports a partition of gex_strikes (date x feed) or of option trades (date) "
        "to Parquet once its data stopped changing for GEX_EXPORT_QUIET_SECONDS.",
    )
    def parquet_export_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursors = parse_cursor(context.cursor)
        quiet = settings.export_quiet_seconds
        requests = [
            request
            for target in TARGETS
            for request in export_requests(context.instance, target, cursors[target.name], quiet)
        ]
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=dump_cursor(cursors))
        waiting = sum(len(c.pending) for c in cursors.values())
        return dg.SensorResult(
            skip_reason=f"{waiting} changed partition(s) waiting for {quiet}s without new data",
            cursor=dump_cursor(cursors),
        )

    return parquet_export_sensor
