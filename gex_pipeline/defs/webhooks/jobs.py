"""Jobs the webhook sensors launch."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.webhooks.assets import UW_LIVE_BATCH

uw_live_job = dg.define_asset_job(
    "uw_live_job",
    selection=[UW_LIVE_BATCH],
    description="One micro-batch: every new sealed /uw segment into DuckDB.",
)

webhook_jobs = [uw_live_job]
