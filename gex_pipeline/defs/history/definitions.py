"""Definitions of the history domain: downloads and imports of historical day files."""

import dagster as dg

from gex_pipeline.defs.history.assets import history_assets
from gex_pipeline.defs.history.jobs import history_jobs
from gex_pipeline.defs.history.sensors import build_history_sensors
from gex_pipeline.defs.settings import PipelineSettings


def history_definitions(settings: PipelineSettings) -> dg.Definitions:
    """Assets, jobs and sensors of the history domain."""
    del settings  # the history sensor reads its own interval (GEX_HISTORY_SENSOR_INTERVAL_SECONDS)
    return dg.Definitions(
        assets=dg.with_source_code_references(history_assets),
        jobs=history_jobs,
        sensors=build_history_sensors(),
    )
