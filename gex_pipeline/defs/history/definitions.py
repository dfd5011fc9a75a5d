"""Definitions of the history domain: downloads and imports of historical day files."""

import dagster as dg

from gex_pipeline.defs.history.assets import history_assets
from gex_pipeline.defs.history.jobs import history_jobs
from gex_pipeline.defs.history.sensors import build_history_sensors
from gex_pipeline.settings import Settings


def history_definitions(settings: Settings) -> dg.Definitions:
    """Assets, jobs and sensors of the history domain."""
    return dg.Definitions(
        assets=dg.with_source_code_references(history_assets),
        jobs=history_jobs,
        sensors=build_history_sensors(settings),
    )
