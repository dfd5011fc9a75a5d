"""Jobs of the GEX domain: the export the sensor launches and the integrity re-check."""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import dagster as dg

from gex_pipeline.defs.gex.checks import IntegrityConfig, integrity_check_specs
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_TABLES
from gex_pipeline.defs.integrity import checks_job, record_verdicts
from gex_pipeline.defs.partitions import gex_partitions, parse_gex_partition_key
from gex_pipeline.defs.resources import ParquetStore, Tables
from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.integrity import CHECKED_TABLES, GEX_CHECKS, FeedDay, partition_checks
from gex_pipeline.lib.lake.tables import Partition

INTEGRITY_CHECKS = dg.AssetSelection.checks(*(spec.key for spec in integrity_check_specs))

# The partition's checks run in the export run: the table checks first (a failed ERROR one keeps
# the partition out of Parquet), the Parquet reconciliation after the export.
gex_parquet_job = dg.define_asset_job(
    "gex_parquet_job",
    selection=dg.AssetSelection.assets(GEX_PARQUET).without_checks() | INTEGRITY_CHECKS,
    description="Check one date x feed partition, export it to Parquet, reconcile the file.",
)

# What a history import or a rebuild runs: the tables, their checks, the export.
gex_rebuild_selection = dg.AssetSelection.assets(*GEX_TABLES, GEX_PARQUET).without_checks() | (
    INTEGRITY_CHECKS
)


@dg.op(
    pool=DUCKDB_WRITER_POOL,
    description="Evaluate the integrity checks of the run's date x feed partition and record "
    "each verdict on the asset it judges.",
)
def gex_integrity_checks(
    context: dg.OpExecutionContext,
    config: IntegrityConfig,
    tables: Tables,
    parquet: ParquetStore,
) -> None:
    """Every integrity check of one partition, as asset check evaluations."""
    key = str(context.partition_key)
    day = FeedDay(*parse_gex_partition_key(key))
    store = tables.store()
    partition = Partition(day.trade_date, feed_key(day.ticker, day.endpoint))
    store.claim(partition)
    with store.reader(partition, CHECKED_TABLES) as con:
        results = partition_checks(
            con, day, parquet.root_dir(), config.thresholds(), rescan=config.rescan
        )
    record_verdicts(context, GEX_CHECKS, key, results)


gex_integrity_job = checks_job(
    "gex_integrity_job",
    gex_integrity_checks,
    gex_partitions,
    "Integrity checks of date x feed partitions without rebuilding them (one run per "
    "partition; a range from the job's Partitions tab is a backfill).",
)

gex_jobs = [gex_parquet_job, gex_integrity_job]
