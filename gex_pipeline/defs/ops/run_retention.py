"""Dagster run retention that never costs a partition its materialized status.

Deleting a run deletes its event log, materializations included. So before a finished run older
than the cutoff is deleted, every materialization in it that is still the latest of its
(asset, partition) is reported again without a run (`report_runless_asset_event`, same key,
partition and metadata, plus where it came from and when it happened: `retained_from_run` and
`materialized_at`). They are carried over in the order they happened. The asset keeps its latest
materialization and every partition its status; what goes is the run's logs, steps and older
superseded events. A carried-over event is no change of the data: the export sensor ignores it
and freshness judgements read `event_time` (the original time).
Failed runs are kept longer (they are what an operator reads after an alert); runs not finished
are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg

FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED)
FAILED = (dg.DagsterRunStatus.FAILURE,)
BATCH = 200
RETAINED_FROM_RUN = "retained_from_run"
MATERIALIZED_AT = "materialized_at"


def is_carried_over(record: dg.EventLogRecord) -> bool:
    """Whether `record` is a materialization re-reported by run retention (no data change)."""
    event = record.asset_materialization
    return event is not None and RETAINED_FROM_RUN in event.metadata


def event_time(record: dg.EventLogRecord) -> float:
    """When the materialization of `record` happened: its original time if carried over."""
    event = record.asset_materialization
    original = event.metadata.get(MATERIALIZED_AT) if event is not None else None
    return float(original.value) if original is not None else record.timestamp  # type: ignore[arg-type]


@dataclass
class RunRetentionReport:
    """Runs deleted and materializations carried over to the runless event log."""

    deleted_runs: list[str] = field(default_factory=list)
    carried_materializations: int = 0


def _latest(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str | None
) -> dg.EventLogRecord | None:
    partitions = [partition] if partition else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=partitions), limit=1
    ).records
    return records[0] if records else None


def _carry_over(instance: dg.DagsterInstance, run_id: str) -> int:
    """Report again, without a run, the materializations of `run_id` that are still the latest.

    (Storage ids of a run's own records and of the index differ on sharded storages: the
    latest record is recognised by its run id.)
    """
    seen: dict[tuple[dg.AssetKey, str | None], int] = {}
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=BATCH
        )
        for record in page.records:
            event = record.asset_materialization
            if event is not None:
                seen[(event.asset_key, event.partition)] = record.storage_id
        if not page.has_more:
            break
        cursor = page.cursor
    carried = 0
    for asset_key, partition in sorted(seen, key=seen.__getitem__):
        latest = _latest(instance, asset_key, partition)
        if latest is None or latest.run_id != run_id or latest.asset_materialization is None:
            continue
        old = latest.asset_materialization
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=old.asset_key,
                partition=old.partition,
                description=old.description,
                metadata={
                    MATERIALIZED_AT: dg.MetadataValue.timestamp(event_time(latest)),
                    **old.metadata,
                    RETAINED_FROM_RUN: dg.MetadataValue.text(run_id),
                },
                tags=old.tags,
            )
        )
        carried += 1
    return carried


def _old_runs(
    instance: dg.DagsterInstance, statuses: tuple[dg.DagsterRunStatus, ...], before: datetime
) -> list[str]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=list(statuses), created_before=before), ascending=True
    )
    return [r.dagster_run.run_id for r in records]


def purge_runs(
    instance: dg.DagsterInstance, before: datetime, failed_before: datetime | None = None
) -> RunRetentionReport:
    """Delete finished runs created before `before` (failed ones before `failed_before`, default:
    kept), carrying their still-latest materializations over first (see the module docstring)."""
    report = RunRetentionReport()
    run_ids = _old_runs(instance, FINISHED, before)
    if failed_before is not None:
        run_ids += _old_runs(instance, FAILED, failed_before)
    for run_id in run_ids:
        report.carried_materializations += _carry_over(instance, run_id)
        instance.delete_run(run_id)
        report.deleted_runs.append(run_id)
    return report
