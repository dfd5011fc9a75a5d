"""Data-integrity asset checks of the GEX tables and their Parquet export, per date x feed.

The checks of `gex_pipeline.lib.gex.integrity` are declared here (`integrity_check_specs`) and
evaluated by `gex_tables` (tables.py) in the run that builds or exports a partition, one verdict
per partition judged (`evaluation`), so every partition of a backfill chunk is judged on its own;
`gex_integrity_job` (jobs.py) re-runs them for partitions without rebuilding anything.

ERROR checks in `PUBLISH_GATES` are blocking: a partition failing one is not exported (the previous
Parquet file stays). The freshness checks are not here: only the sensor that judges them records
them (freshness.py).
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import dagster as dg
from pydantic import Field

from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline.defs.partitions import gex_partitions
from gex_pipeline.lib.gex.integrity import (
    ERROR,
    PUBLISH_GATES,
    IntegrityResult,
    Thresholds,
    ny_iso,
)

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
        return Thresholds(**self.model_dump(include=set(Thresholds.__dataclass_fields__)))


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


def evaluation(result: IntegrityResult, partition: str) -> dg.AssetCheckEvaluation:
    """The verdict of one check on one partition, on the asset the check judges."""
    asset, _ = CHECK_DESCRIPTIONS[result.name]
    severity = (
        dg.AssetCheckSeverity.ERROR if result.severity == ERROR else dg.AssetCheckSeverity.WARN
    )
    return dg.AssetCheckEvaluation(
        asset_key=asset,
        check_name=result.name,
        passed=result.passed,
        severity=severity,
        metadata=check_metadata(result),
        partition=partition,
    )
