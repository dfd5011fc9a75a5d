"""Jobs the GEX sensors launch."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.gex.assets import GEX_PARQUET, LIVE_BATCH

gex_live_job = dg.define_asset_job(
    "gex_live_job",
    selection=[LIVE_BATCH],
    description="One micro-batch: every new sealed /gex segment into DuckDB.",
)
gex_parquet_job = dg.define_asset_job(
    "gex_parquet_job",
    selection=[GEX_PARQUET],
    description="Export one date x feed partition to Parquet.",
)

gex_jobs = [gex_live_job, gex_parquet_job]
