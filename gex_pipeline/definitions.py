"""The single Dagster `Definitions` of the gex_pipeline code location.

Loaded lazily (`@dg.definitions`) so settings are read when the code location loads, not at
import. Each domain contributes its own `Definitions` (`defs/<domain>/definitions.py`); they are
merged here with the resources every domain shares, built from the settings so the UI's Resources
page shows the real paths, and the Parquet export sensor, which serves the gex and webhooks domains.
"""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.export_sensor import build_export_sensor
from gex_pipeline.defs.gex.definitions import gex_definitions
from gex_pipeline.defs.history.definitions import history_definitions
from gex_pipeline.defs.ops.definitions import ops_definitions
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.defs.webhooks.definitions import webhooks_definitions
from gex_pipeline.settings import Settings

DOMAINS = (gex_definitions, history_definitions, webhooks_definitions, ops_definitions)


@dg.definitions
def defs() -> dg.Definitions:
    """Every domain's definitions and the shared resources."""
    settings = Settings.from_env()
    shared = dg.Definitions(
        resources=build_resources(settings),
        sensors=[build_export_sensor(settings.pipeline)],
    )
    return dg.Definitions.merge(*(domain(settings) for domain in DOMAINS), shared)
