"""Data-integrity asset checks of the GEX tables, per date x feed partition.

Two partitioned multi-asset check ops run the checks of `gex_pipeline.lib.gex.integrity` over a
feed-day with one DuckDB connection each (through `DuckDBDatabase`, in the `duckdb_writer` pool):
`gex_table_checks` judges `gex_snapshots` and `gex_strikes`, `gex_parquet_checks` judges
`gex_parquet`. Two ops, not one: in a run that also exports, the table checks must run before the
export and the Parquet check after it; one op split by Dagster into two steps evaluated a
nondeterministic subset in single-run backfills of a range (docs/decisions.md).

ERROR checks of the tables are blocking (`AssetCheckSpec(blocking=True)`): in a run that also
materializes `gex_parquet` (an import or a rebuild followed by the export), a failure skips the
export. The export asset judges the same gates itself before writing (`publish.publish_gate`),
so an export launched on its own never publishes a partition an ERROR check rejects either.
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import time
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from gex_pipeline.defs.gex.freshness import FEED_FRESHNESS, freshness_result
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline.defs.partitions import gex_partitions, parse_gex_partition_key
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.gex.integrity import (
    ERROR,
    PUBLISH_GATES,
    FeedDay,
    IntegrityResult,
    Thresholds,
    ny_iso,
    partition_checks,
)
from gex_pipeline.lib.metrics.pipeline import record_checks
from gex_pipeline.settings import Settings

_DEFAULTS = Thresholds()

CHECK_DESCRIPTIONS: dict[str, tuple[dg.AssetKey, str]] = {
    "timestamp_gaps": (
        GEX_SNAPSHOTS,
        "No two consecutive in-session snapshots (exchange calendar) further apart than "
        "max_gap_seconds; gaps are listed as blocks.",
    ),
    "session_coverage": (
        GEX_SNAPSHOTS,
        "Snapshots start at the session's open and end at its close (early closes included) and "
        "at least min_completeness of the expected snapshots at the feed's cadence are present.",
    ),
    "spot_spikes": (
        GEX_SNAPSHOTS,
        "No spot move between consecutive snapshots beyond both spike_min_move and "
        "spike_robust_deviations robust deviations (spikes revert, jumps stay).",
    ),
    "zero_snapshots": (
        GEX_SNAPSHOTS,
        "No snapshot whose sums and every strike's gamma and oi_gamma are 0 (blocks listed).",
    ),
    "out_of_session_rows": (
        GEX_SNAPSHOTS,
        "No snapshot outside the session's open-close (exchange calendar), none on a holiday.",
    ),
    "trade_date_mismatch": (
        GEX_SNAPSHOTS,
        "Every snapshot and strike row's trade_date is the New York date of its timestamp.",
    ),
    "history_dropped_rows": (
        GEX_SNAPSHOTS,
        "The imported day file holds no second twice with different content and no unreadable "
        "timestamp (dropped rows are kept in gex_history_rejects).",
    ),
    "history_foreign_rows": (
        GEX_SNAPSHOTS,
        "The imported day file holds no row of another date, ticker or endpoint "
        "(kept in gex_history_rejects).",
    ),
    "live_history_drift": (
        GEX_SNAPSHOTS,
        "Live snapshots replaced by a history import agree with the imported ones on spot and "
        "zero_gamma within the drift tolerances.",
    ),
    FEED_FRESHNESS: (
        GEX_SNAPSHOTS,
        "A live feed reports at least every GEX_FRESHNESS_MAX_SILENCE_SECONDS during today's "
        "session (not judged outside it; recorded by gex_freshness_sensor).",
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
    dg.AssetCheckSpec(
        name,
        asset=asset,
        description=text,
        partitions_def=gex_partitions,
        blocking=name in PUBLISH_GATES,
    )
    for name, (asset, text) in CHECK_DESCRIPTIONS.items()
]
table_check_specs = [s for s in integrity_check_specs if s.asset_key != GEX_PARQUET]
parquet_check_specs = [s for s in integrity_check_specs if s.asset_key == GEX_PARQUET]


class IntegrityConfig(dg.Config):
    """Thresholds of the integrity checks (defaults suit 1 Hz feeds)."""

    max_gap_seconds: float = Field(default=_DEFAULTS.max_gap_seconds, gt=0)
    cadence_seconds: float = Field(default=_DEFAULTS.cadence_seconds, gt=0)
    min_completeness: float = Field(default=_DEFAULTS.min_completeness, ge=0, le=1)
    spike_min_move: float = Field(default=_DEFAULTS.spike_min_move, gt=0, lt=1)
    spike_robust_deviations: float = Field(default=_DEFAULTS.spike_robust_deviations, gt=0)
    drift_spot_tolerance: float = Field(default=_DEFAULTS.drift_spot_tolerance, gt=0)
    drift_zero_gamma_tolerance: float = Field(default=_DEFAULTS.drift_zero_gamma_tolerance, gt=0)
    examples: int = Field(default=_DEFAULTS.examples, ge=1)
    rescan: bool = Field(
        default=False,
        description="Read every strike row and the Parquet file instead of the figures kept at "
        "load and export time (also finds gex_strikes rows updated behind the pipeline).",
    )

    def thresholds(self) -> Thresholds:
        """The lib's thresholds with these values."""
        return Thresholds(**self.model_dump(exclude={"rescan"}))


def _blocks_table(blocks) -> dg.MetadataValue:
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("start", "string", description="New York time"),
            dg.TableColumn("end", "string", description="New York time"),
            dg.TableColumn("length", "int", description="snapshots or seconds"),
        ]
    )
    records = [
        dg.TableRecord({"start": ny_iso(b.start_ms), "end": ny_iso(b.end_ms), "length": b.length})
        for b in blocks
    ]
    return dg.MetadataValue.table(records, schema=schema)


def check_metadata(result: IntegrityResult) -> dict[str, dg.MetadataValue]:
    """Counts, details, timestamps (as timestamps) and blocks (start, end, length) of a result."""
    meta: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.int(value) for name, value in result.counts.items()
    }
    for name, value in result.details.items():
        if isinstance(value, str):
            meta[name] = dg.MetadataValue.text(value)
        elif isinstance(value, float | int):
            meta[name] = dg.MetadataValue.float(float(value))
    for name, ms in result.instants.items():
        if ms is not None:
            meta[name] = dg.MetadataValue.timestamp(ms / 1000)
    for name, stamps in result.examples.items():
        if stamps:
            meta[f"first_{name}"] = dg.MetadataValue.timestamp(stamps[0] / 1000)
            meta[f"examples_{name}"] = dg.MetadataValue.md(
                "\n".join(f"- {ny_iso(ms)}" for ms in stamps)
            )
    for name, blocks in result.blocks.items():
        if blocks:
            meta[f"blocks_{name}"] = _blocks_table(blocks)
    return meta


def to_check_result(result: IntegrityResult) -> dg.AssetCheckResult:
    """The Dagster check result of a lib result, on the asset the check judges."""
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


def as_evaluation(check: dg.AssetCheckResult, partition: str) -> dg.AssetCheckEvaluation:
    """The verdict of one partition of a range run (a check op cannot yield per-partition
    results when its run covers a range, e.g. a single-run backfill; it logs evaluations)."""
    assert check.asset_key is not None and check.check_name is not None
    return dg.AssetCheckEvaluation(
        asset_key=check.asset_key,
        check_name=check.check_name,
        passed=check.passed,
        metadata=check.metadata,
        severity=check.severity,
        partition=partition,
    )


def _run_checks(
    context: dg.AssetCheckExecutionContext,
    config: IntegrityConfig,
    duckdb_database: DuckDBDatabase,
    parquet: ParquetStore,
) -> Iterator[dg.AssetCheckResult]:
    """Run the selected integrity checks over the run's partition (or each of its range)."""
    selected = {key.name for key in context.selected_asset_check_keys}
    keys = context.partition_keys
    now_ms = int(time.time() * 1000)
    silence = Settings.from_env().pipeline.freshness_max_silence_seconds
    for key in keys:
        day = FeedDay(*parse_gex_partition_key(key))
        checks: list[dg.AssetCheckResult] = []
        if FEED_FRESHNESS in selected:
            checks.append(freshness_result(context.instance, key, now_ms, silence))
        with duckdb_database.connect() as con:
            results = partition_checks(
                con, day, parquet.root_dir(), config.thresholds(), selected - {FEED_FRESHNESS},
                rescan=config.rescan,
            )  # fmt: skip
        for result in results:
            if not result.passed:
                context.log.warning("%s %s failed: %s", day, result.name, result.counts)
            checks.append(to_check_result(result))
        record_checks((str(check.check_name), check.passed) for check in checks)
        for check in checks:
            if len(keys) == 1:
                yield check
            else:
                context.op_execution_context.log_event(as_evaluation(check, key))


@dg.multi_asset_check(
    specs=table_check_specs,
    name="gex_table_checks",
    pool=DUCKDB_WRITER_POOL,
    can_subset=True,
    description="Integrity checks of one date x feed partition of gex_snapshots and gex_strikes "
    "(gex_pipeline/lib/gex/integrity.py).",
)
def gex_table_checks(
    context: dg.AssetCheckExecutionContext,
    config: IntegrityConfig,
    duckdb_database: DuckDBDatabase,
    parquet: ParquetStore,
) -> Iterator[dg.AssetCheckResult]:
    """The table checks of the run's partition (or each of its range)."""
    yield from _run_checks(context, config, duckdb_database, parquet)


@dg.multi_asset_check(
    specs=parquet_check_specs,
    name="gex_parquet_checks",
    pool=DUCKDB_WRITER_POOL,
    can_subset=True,
    description="The Parquet file of one date x feed partition against gex_strikes "
    "(gex_pipeline/lib/gex/integrity.py).",
)
def gex_parquet_checks(
    context: dg.AssetCheckExecutionContext,
    config: IntegrityConfig,
    duckdb_database: DuckDBDatabase,
    parquet: ParquetStore,
) -> Iterator[dg.AssetCheckResult]:
    """The Parquet check of the run's partition (or each of its range)."""
    yield from _run_checks(context, config, duckdb_database, parquet)


gex_checks = [gex_table_checks, gex_parquet_checks]
