"""A patch of dagster 1.13 (tested on the pinned minor): partitioned jobs of asset checks alone.

Partitioned asset checks are a preview feature (`AssetCheckSpec(partitions_def=...)`). Dagster
1.13 infers a job's partitions only from the executable assets it selects, so a job selecting
checks alone is unpartitioned even when `define_asset_job(partitions_def=...)` names one: the UI
then offers neither a partition picker nor a backfill for it. The patch makes such a job take the
partitions definition it was given. It changes nothing for jobs whose assets have partitions, nor
for jobs given no partitions definition. `gex_pipeline_tests/gex/test_integrity_assets.py` tests
the behaviour relied on (a partitioned checks job, runs for one partition, backfill over a range),
so an upgrade that breaks it fails the tests instead of the UI.
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster._core.definitions.assets.job import asset_job as _asset_job

_original = _asset_job._infer_and_validate_common_partitions_def


def _with_required_partitions(
    asset_graph: object,
    asset_keys: object,
    allow_different_partitions_defs: bool,
    required_partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.PartitionsDefinition | None:
    """Dagster's inference, falling back to the partitions definition the job was given."""
    inferred = _original(
        asset_graph,
        asset_keys,
        allow_different_partitions_defs,
        required_partitions_def=required_partitions_def,
    )
    return inferred if inferred is not None else required_partitions_def


def _apply() -> None:
    """Install the patch (idempotent); refuse to run on a dagster minor it was not tested on."""
    if not dg.__version__.startswith("1.13."):
        raise RuntimeError(
            f"gex_pipeline patches dagster 1.13 for partitioned check jobs, found {dg.__version__}:"
            " re-test gex_pipeline/defs/dagster_compat.py before upgrading"
        )
    _asset_job._infer_and_validate_common_partitions_def = _with_required_partitions


def partitioned_check_job(
    name: str,
    checks: list[dg.AssetCheckKey],
    partitions_def: dg.PartitionsDefinition,
    description: str,
    tags: dict[str, str] | None = None,
) -> dg.UnresolvedAssetJobDefinition:
    """An asset job running `checks` for one partition of `partitions_def` per run."""
    _apply()
    with warnings.catch_warnings():
        # `partitions_def` of define_asset_job is deprecated in favour of the assets' own; a job
        # of checks alone has no asset to take it from.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=dg.BetaWarning)
        return dg.define_asset_job(
            name,
            selection=dg.AssetSelection.checks(*checks),
            partitions_def=partitions_def,
            description=description,
            tags=tags,
        )
