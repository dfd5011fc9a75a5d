"""Read back what a run recorded in the instance (events logged per partition included)."""

from __future__ import annotations

import dagster as dg


def run_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """Every asset check evaluation recorded by run `run_id`, in order."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    return [r.event_log_entry.asset_check_evaluation for r in records]


def run_materializations(
    instance: dg.DagsterInstance, run_id: str
) -> list[dg.AssetMaterialization]:
    """Every asset materialization recorded by run `run_id`, in order."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return [r.event_log_entry.asset_materialization for r in records]
