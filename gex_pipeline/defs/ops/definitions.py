"""Definitions of the ops domain: backups, maintenance, alerts."""

import dagster as dg

from gex_pipeline.defs.ops.jobs import ops_jobs
from gex_pipeline.defs.ops.schedules import ops_schedules
from gex_pipeline.defs.ops.sensors import ops_sensors
from gex_pipeline.settings import Settings


def ops_definitions(settings: Settings) -> dg.Definitions:
    """Jobs, schedules and sensors of the ops domain."""
    del settings  # ops settings are read when a run or sensor needs them (`settings.ops`)
    return dg.Definitions(jobs=ops_jobs, schedules=ops_schedules, sensors=ops_sensors)
