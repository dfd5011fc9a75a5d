"""The job `gex_history_sensor` launches: import one feed-day into the tables, check it, export it."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.gex.jobs import gex_rebuild_selection

# Imports go ahead of queued backfill chunks: their signed links expire.
HISTORY_PRIORITY = 10

gex_history_job = dg.define_asset_job(
    "gex_history_job",
    selection=gex_rebuild_selection,
    description="Rebuild date x feed partitions of gex_snapshots / gex_strikes (a posted link, the "
    "kept raw file or staging), check them and export them to Parquet, in one run.",
    tags={"dagster/priority": str(HISTORY_PRIORITY)},
)

history_jobs = [gex_history_job]
