"""Jobs the GEX sensors launch."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.gex.assets import GEX_PARQUET
from gex_pipeline.defs.gex.checks import integrity_check_specs

gex_parquet_job = dg.define_asset_job(
    "gex_parquet_job",
    selection=[GEX_PARQUET],
    description="Export one date x feed partition to Parquet.",
)

# A job of partitioned checks alone gets no partitions definition from dagster 1.13 (it infers it
# from executable assets), so runs name their partition with the `dagster/partition` tag.
gex_integrity_job = dg.define_asset_job(
    "gex_integrity_job",
    selection=dg.AssetSelection.checks(*(spec.key for spec in integrity_check_specs)),
    description="Integrity checks of one date x feed partition (tag dagster/partition).",
)

gex_jobs = [gex_parquet_job, gex_integrity_job]
