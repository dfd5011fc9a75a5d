"""Data-integrity asset checks of the GEX tables, per date x feed partition.

One partitioned multi-asset check op runs every check of `gex_pipeline.lib.gex.integrity` over one
feed-day with one DuckDB connection (through `DuckDBDatabase`, in the `duckdb_writer` pool) and
reports each verdict on the asset it describes: `gex_snapshots` (gaps, spikes, zero snapshots,
out-of-session rows, trade dates), `gex_strikes` (duplicates) and `gex_parquet` (reconciliation).
`gex_integrity_sensor` (sensors.py) runs them for every partition exported to Parquet.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.gex.assets import GEX_PARQUET, GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline.defs.partitions import gex_partitions, parse_gex_partition_key
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.integrity import (
    ERROR,
    FeedDay,
    IntegrityResult,
    Thresholds,
    partition_checks,
)

_DEFAULTS = Thresholds()

CHECK_DESCRIPTIONS: dict[str, tuple[dg.AssetKey, str]] = {
    "timestamp_gaps": (
        GEX_SNAPSHOTS,
        "No two consecutive in-session (09:30-16:00 New York) snapshots further apart than "
        "max_gap_seconds.",
    ),
    "spot_spikes": (
        GEX_SNAPSHOTS,
        "No spot move between consecutive snapshots beyond both spike_min_move and "
        "spike_robust_deviations robust deviations (spikes revert, jumps stay).",
    ),
    "zero_snapshots": (
        GEX_SNAPSHOTS,
        "No snapshot whose sums and every strike's gamma and oi_gamma are 0.",
    ),
    "out_of_session_rows": (
        GEX_SNAPSHOTS,
        "No snapshot outside the regular session 09:30-16:00 New York time.",
    ),
    "trade_date_mismatch": (
        GEX_SNAPSHOTS,
        "Every snapshot and strike row's trade_date is the New York date of its timestamp.",
    ),
    "duplicate_rows": (
        GEX_STRIKES,
        "No natural-key duplicate in gex_snapshots (ticker, endpoint, timestamp) or gex_strikes "
        "(+ strike): no snapshot stored twice, no strike repeated in a snapshot.",
    ),
    "parquet_reconciliation": (
        GEX_PARQUET,
        "The partition's Parquet file holds exactly the gex_strikes rows (count and checksum).",
    ),
}

integrity_check_specs = [
    dg.AssetCheckSpec(name, asset=asset, description=text, partitions_def=gex_partitions)
    for name, (asset, text) in CHECK_DESCRIPTIONS.items()
]


class IntegrityConfig(dg.Config):
    """Thresholds of the integrity checks (defaults suit 1 Hz feeds)."""

    max_gap_seconds: float = Field(default=_DEFAULTS.max_gap_seconds, gt=0)
    cadence_seconds: float = Field(default=_DEFAULTS.cadence_seconds, gt=0)
    spike_min_move: float = Field(default=_DEFAULTS.spike_min_move, gt=0, lt=1)
    spike_robust_deviations: float = Field(default=_DEFAULTS.spike_robust_deviations, gt=0)
    examples: int = Field(default=_DEFAULTS.examples, ge=1)

    def thresholds(self) -> Thresholds:
        """The lib's thresholds with these values."""
        return Thresholds(
            max_gap_seconds=self.max_gap_seconds,
            cadence_seconds=self.cadence_seconds,
            spike_min_move=self.spike_min_move,
            spike_robust_deviations=self.spike_robust_deviations,
            examples=self.examples,
        )


def check_metadata(result: IntegrityResult) -> dict[str, dg.MetadataValue]:
    """Counts, details and example timestamps of a result, as UI metadata."""
    meta: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.int(value) for name, value in result.counts.items()
    }
    for name, value in result.details.items():
        if isinstance(value, str):
            meta[name] = dg.MetadataValue.text(value)
        elif isinstance(value, float | int):
            meta[name] = dg.MetadataValue.float(float(value))
    for name, stamps in result.examples.items():
        if stamps:
            meta[f"examples_{name}"] = dg.MetadataValue.md(
                "\n".join(f"- {stamp}" for stamp in stamps)
            )
    return meta


def to_check_result(result: IntegrityResult) -> dg.AssetCheckResult:
    """The Dagster check result of a lib result, on the asset the check describes."""
    asset, _ = CHECK_DESCRIPTIONS[result.name]
    severity = (
        dg.AssetCheckSeverity.ERROR if result.severity == ERROR else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=result.name,
        passed=result.passed,
        severity=severity,
        metadata=check_metadata(result),
    )


def to_check_evaluation(result: IntegrityResult, partition: str) -> dg.AssetCheckEvaluation:
    """The verdict of one partition of a range run (a check op cannot yield per-partition
    results when its run covers a range, e.g. a single-run backfill; it logs evaluations)."""
    check = to_check_result(result)
    return dg.AssetCheckEvaluation(
        asset_key=check.asset_key,
        check_name=result.name,
        passed=result.passed,
        metadata=check.metadata,
        severity=check.severity,
        partition=partition,
    )


@dg.multi_asset_check(
    specs=integrity_check_specs,
    name="gex_integrity_checks",
    pool=DUCKDB_WRITER_POOL,
    can_subset=True,
    description="Integrity checks of one date x feed partition (see gex_pipeline/lib/integrity.py).",
)
def gex_integrity_checks(
    context: dg.AssetCheckExecutionContext,
    config: IntegrityConfig,
    duckdb_database: DuckDBDatabase,
    parquet: ParquetStore,
) -> Iterator[dg.AssetCheckResult]:
    """Run the selected integrity checks over the run's partition (or each of its range)."""
    selected = {key.name for key in context.selected_asset_check_keys}
    keys = context.partition_keys
    for key in keys:
        day = FeedDay(*parse_gex_partition_key(key))
        with duckdb_database.connect() as con:
            results = partition_checks(con, day, parquet.root_dir(), config.thresholds(), selected)
        for result in results:
            if not result.passed:
                context.log.warning("%s %s failed: %s", day, result.name, result.counts)
            if len(keys) == 1:
                yield to_check_result(result)
            else:
                context.op_execution_context.log_event(to_check_evaluation(result, key))


gex_checks = [gex_integrity_checks]
