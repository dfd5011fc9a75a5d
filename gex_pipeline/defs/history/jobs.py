"""The job `gex_history_sensor` launches: one date x feed partition of `gex_history_import`."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.history.assets import HISTORY_IMPORT

gex_history_job = dg.define_asset_job(
    "gex_history_job",
    selection=[HISTORY_IMPORT],
    description="Download and import one historical day file (date x feed partition).",
)

history_jobs = [gex_history_job]
