"""Sensors of the GEX domain. They never open DuckDB.

- `gex_freshness_sensor` (freshness.py): flags a live feed that goes quiet during the session and
  judges the Parquet export of each session once its deadline passed.
The Parquet export of `gex_strikes` partitions is `parquet_export_sensor` (`defs/export_sensor.py`).
Every run that materializes a table partition (import, rebuild, backfill, export) runs its
integrity checks in the same run; no sensor launches check runs.
"""

import dagster as dg

from gex_pipeline.defs.gex.freshness import build_freshness_sensor
from gex_pipeline.settings import PipelineSettings


def build_gex_sensors(settings: PipelineSettings) -> list[dg.SensorDefinition]:
    """Every sensor of the GEX domain."""
    return [build_freshness_sensor(settings)]
