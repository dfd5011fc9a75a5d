"""Definitions of the webhooks domain: option-flow messages posted to `/uw`."""

import dagster as dg

from gex_pipeline.defs.webhooks.assets import uw_staging_spec
from gex_pipeline.defs.webhooks.checks import webhook_checks
from gex_pipeline.defs.webhooks.freshness import stream_freshness
from gex_pipeline.defs.webhooks.jobs import webhook_jobs
from gex_pipeline.defs.webhooks.parquet import UwParquetStore, option_trades_parquet
from gex_pipeline.defs.webhooks.tables import webhook_tables
from gex_pipeline.settings import Settings


def webhooks_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks and jobs of the webhooks domain (its export: `defs/export_sensor.py`)."""
    return dg.Definitions(
        assets=dg.with_source_code_references(
            [uw_staging_spec, webhook_tables, option_trades_parquet]
        ),
        asset_checks=[*webhook_checks, stream_freshness],
        jobs=webhook_jobs,
        resources={"uw_parquet": UwParquetStore(root=str(settings.paths.uw_parquet_dir))},
    )
