"""Definitions of the webhooks domain: option-flow messages posted to `/uw`."""

import dagster as dg

from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline.defs.webhooks.assets import webhook_assets
from gex_pipeline.defs.webhooks.checks import webhook_checks
from gex_pipeline.defs.webhooks.jobs import webhook_jobs
from gex_pipeline.defs.webhooks.parquet import UwParquetStore, option_trades_parquet
from gex_pipeline.defs.webhooks.sensors import build_webhook_sensors


def webhooks_definitions(settings: PipelineSettings) -> dg.Definitions:
    """Assets, jobs and sensors of the webhooks domain."""
    return dg.Definitions(
        assets=dg.with_source_code_references([*webhook_assets, option_trades_parquet]),
        asset_checks=webhook_checks,
        jobs=webhook_jobs,
        sensors=build_webhook_sensors(settings),
        resources={"uw_parquet": UwParquetStore()},
    )
