"""The single Dagster `Definitions` of the gex_pipeline code location.

Loaded lazily (`@dg.definitions`) so settings are read when the code location loads, not at
import. Each domain contributes lists of assets, jobs and sensors; add a domain by extending them.
"""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.gex.assets import gex_assets
from gex_pipeline.defs.gex.checks import gex_check_jobs, gex_check_sensors, gex_checks
from gex_pipeline.defs.gex.jobs import gex_jobs
from gex_pipeline.defs.gex.sensors import build_gex_sensors
from gex_pipeline.defs.history.assets import history_assets
from gex_pipeline.defs.history.jobs import history_jobs
from gex_pipeline.defs.history.sensors import build_history_sensors
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore, StagingArea
from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline.defs.webhooks.assets import webhook_assets
from gex_pipeline.defs.webhooks.jobs import webhook_jobs
from gex_pipeline.defs.webhooks.sensors import build_webhook_sensors


@dg.definitions
def defs() -> dg.Definitions:
    """Assets, jobs, sensors and resources of every domain."""
    settings = PipelineSettings.from_env()
    assets = [*gex_assets, *history_assets, *webhook_assets]
    jobs = [*gex_jobs, *gex_check_jobs, *history_jobs, *webhook_jobs]
    sensors = [
        *build_gex_sensors(settings),
        *gex_check_sensors,
        *build_history_sensors(),
        *build_webhook_sensors(settings),
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=gex_checks,
        jobs=jobs,
        sensors=sensors,
        resources={
            "duckdb_database": DuckDBDatabase(),
            "staging": StagingArea(),
            "parquet": ParquetStore(),
        },
    )
