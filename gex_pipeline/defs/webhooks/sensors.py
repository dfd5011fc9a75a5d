"""Sensors of the webhook domain. They never open DuckDB.

`uw_live_sensor` lists sealed /uw segments above its cursor (the last seq requested) and asks for
one `uw_live_job` run covering all of them; it shares the live sensors' settings
(`GEX_LIVE_SENSOR_INTERVAL_SECONDS`, `GEX_LIVE_MAX_SEGMENTS_PER_RUN`, `GEX_LIVE_STALE_SECONDS`).
"""

# No `from __future__ import annotations` here: Dagster reads the resource types from the
# annotations of decorated functions when the definitions load.
import dagster as dg

from gex_pipeline.defs.live import LiveStream, live_run, live_run_key, retry_stale
from gex_pipeline.defs.resources import StagingArea
from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline.defs.webhooks.assets import UW_LIVE_BATCH
from gex_pipeline.defs.webhooks.jobs import uw_live_job
from gex_pipeline.lib.staging.layout import UW_STREAM

UW_LIVE = LiveStream(UW_STREAM, UW_LIVE_BATCH, "uw_live")


def build_uw_live_sensor(settings: PipelineSettings) -> dg.SensorDefinition:
    """The webhook sensor, ticking every `settings.live_sensor_interval_seconds`."""

    @dg.sensor(
        name="uw_live_sensor",
        job=uw_live_job,
        minimum_interval_seconds=settings.live_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One uw_live_job run per tick for every new sealed /uw segment.",
    )
    def uw_live_sensor(
        context: dg.SensorEvaluationContext, staging: StagingArea
    ) -> dg.SensorResult | dg.SkipReason:
        after = int(context.cursor or 0)
        segments = staging.list_sealed(UW_STREAM, after, settings.live_max_segments_per_run)
        if not segments:
            return retry_stale(staging, after, settings.live_stale_seconds, UW_LIVE)
        lower, upper = segments[0].seq, segments[-1].seq
        run_key = live_run_key(lower, upper, UW_LIVE.run_key_prefix)
        run = live_run(run_key, lower, upper, len(segments), UW_LIVE)
        return dg.SensorResult(run_requests=[run], cursor=str(upper))

    return uw_live_sensor


def build_webhook_sensors(settings: PipelineSettings) -> list[dg.SensorDefinition]:
    """Every sensor of the webhook domain."""
    return [build_uw_live_sensor(settings)]
