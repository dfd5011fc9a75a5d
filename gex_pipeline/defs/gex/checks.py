"""Data-integrity asset checks of the GEX tables and their Parquet export, per date x feed.

The checks of `gex_pipeline.lib.gex.integrity` (its registry `GEX_CHECKS`) are declared here
(`integrity_check_specs`) and evaluated by `gex_tables` (tables.py) in the run that builds or
exports a partition, one verdict per partition judged, so every partition of a backfill chunk is
judged on its own; `gex_integrity_job` (jobs.py) re-runs them for partitions without rebuilding
anything.

ERROR checks in `PUBLISH_GATES` are blocking: a partition failing one is not exported (the previous
Parquet file stays). The freshness checks are not here: only the sensor that judges them records
them (freshness.py).
"""

# No `from __future__ import annotations` here: Dagster reads the config and resource types
# from the annotations of decorated functions when the definitions load.
import dagster as dg
from pydantic import Field

from gex_pipeline.defs.integrity import check_specs
from gex_pipeline.defs.partitions import gex_partitions
from gex_pipeline.lib.gex.integrity import GEX_CHECKS, Thresholds

_DEFAULTS = Thresholds()

integrity_check_specs = check_specs(GEX_CHECKS, gex_partitions)


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
