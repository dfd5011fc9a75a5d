"""Definitions of the gex domain: tables, Parquet export, integrity and freshness checks."""

import dagster as dg

from gex_pipeline.defs.gex.assets import gex_assets
from gex_pipeline.defs.gex.freshness import gex_freshness_checks
from gex_pipeline.defs.gex.jobs import gex_jobs
from gex_pipeline.defs.gex.sensors import build_gex_sensors
from gex_pipeline.settings import Settings


def gex_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks, jobs and sensors of the gex domain (the integrity checks are part of
    `gex_tables`)."""
    return dg.Definitions(
        assets=dg.with_source_code_references(gex_assets),
        asset_checks=[gex_freshness_checks],
        jobs=gex_jobs,
        sensors=build_gex_sensors(settings.pipeline),
    )
