"""Jobs the GEX sensors launch."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.dagster_compat import partitioned_check_job
from gex_pipeline.defs.gex.checks import integrity_check_specs
from gex_pipeline.defs.gex.keys import GEX_PARQUET
from gex_pipeline.defs.partitions import gex_partitions

# The partition's checks run in the export run: the table checks first (the ERROR ones block the
# export), the Parquet reconciliation after it. A blocked export is a verdict: no run retry.
gex_parquet_job = dg.define_asset_job(
    "gex_parquet_job",
    selection=dg.AssetSelection.assets(GEX_PARQUET)
    | dg.AssetSelection.checks(*(spec.key for spec in integrity_check_specs)),
    description="Check one date x feed partition, export it to Parquet, reconcile the file.",
    tags={"dagster/retry_on_asset_or_op_failure": "false"},
)

# Partitioned like the tables (dagster_compat patches 1.13 so a job of checks alone can be), so
# the UI runs it for one partition (launchpad) or a range (backfill from the job's Partitions tab).
# A blocking ERROR check fails its step: that verdict is final, so the run is not retried.
gex_integrity_job = partitioned_check_job(
    "gex_integrity_job",
    [spec.key for spec in integrity_check_specs],
    gex_partitions,
    description="Integrity checks of date x feed partitions (one run per partition).",
    tags={"dagster/retry_on_asset_or_op_failure": "false"},
)

gex_jobs = [gex_parquet_job, gex_integrity_job]
