"""Definitions of the webhooks domain: option-flow messages posted to `/uw`."""

import dagster as dg

from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline.defs.webhooks.assets import webhook_assets


def webhooks_definitions(settings: PipelineSettings) -> dg.Definitions:
    """Assets of the webhooks domain (loaded by the live loader, outside runs)."""
    del settings  # nothing of this domain is tuned yet
    return dg.Definitions(assets=webhook_assets)
