"""The job `gex_history_sensor` launches: import one feed-day into the tables, export its Parquet."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_TABLES

gex_history_job = dg.define_asset_job(
    "gex_history_job",
    selection=[*GEX_TABLES, GEX_PARQUET],
    description="Rebuild date x feed partitions of gex_snapshots / gex_strikes (a posted link, the "
    "kept raw file or staging) and export them to Parquet, in one run.",
)

history_jobs = [gex_history_job]
