"""Sensors of the webhook domain. They never open DuckDB.

`option_trades_export_sensor` checks and exports a day of option trades once it is quiet.
"""

# No `from __future__ import annotations` here: Dagster reads the resource types from the
# annotations of decorated functions when the definitions load.
import time

import dagster as dg

from gex_pipeline.defs.gex.sensors import EVENTS_PER_TICK, ExportCursor, due_partitions
from gex_pipeline.defs.webhooks.assets import OPTION_TRADES_EVENTS
from gex_pipeline.defs.webhooks.jobs import option_trades_parquet_job
from gex_pipeline.settings import PipelineSettings


def build_option_trades_export_sensor(settings: PipelineSettings) -> dg.SensorDefinition:
    """Exports (after checking) a trading date of option trades once it has been quiet for
    `GEX_EXPORT_QUIET_SECONDS`, like the GEX export sensor."""

    @dg.sensor(
        name="option_trades_export_sensor",
        job=option_trades_parquet_job,
        minimum_interval_seconds=settings.export_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Checks and exports a day of option trades once its data stopped changing.",
    )
    def option_trades_export_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = ExportCursor.parse(context.cursor)
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                OPTION_TRADES_EVENTS, after_storage_id=cursor.after_storage_id or None
            ),
            limit=EVENTS_PER_TICK,
            ascending=True,
        ).records
        for record in records:
            if record.partition_key:
                cursor.pending[record.partition_key] = max(
                    cursor.pending.get(record.partition_key, 0.0), record.timestamp
                )
            cursor.after_storage_id = max(cursor.after_storage_id, record.storage_id)
        due = due_partitions(cursor.pending, time.time(), settings.export_quiet_seconds)
        requests = [
            dg.RunRequest(run_key=f"option_trades:{key}:{cursor.pending[key]}", partition_key=key)
            for key in due
        ]
        for key in due:
            del cursor.pending[key]
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor.dump())
        return dg.SensorResult(
            skip_reason=f"{len(cursor.pending)} day(s) of option trades waiting to be quiet",
            cursor=cursor.dump(),
        )

    return option_trades_export_sensor


def build_webhook_sensors(settings: PipelineSettings) -> list[dg.SensorDefinition]:
    """Every sensor of the webhook domain."""
    return [build_option_trades_export_sensor(settings)]
