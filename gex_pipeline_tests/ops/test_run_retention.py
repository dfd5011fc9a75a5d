"""Run retention deletes old runs, and every partition keeps its materialized status."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.ops.run_retention import purge_runs

PARTS = dg.StaticPartitionsDefinition(["2025-11-13|SPX.gex_zero", "2025-11-14|SPX.gex_zero"])
A, B = PARTS.get_partition_keys()


@dg.asset(partitions_def=PARTS)
def table(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": len(context.run.run_id)})


@dg.asset
def failing() -> None:
    raise RuntimeError("boom")


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "home")) as inst:
        yield inst


def _materialize(instance: dg.DagsterInstance, partition: str) -> str:
    result = dg.materialize([table], partition_key=partition, instance=instance)
    return result.run_id


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


def test_partitions_keep_their_status_after_their_runs_are_deleted(
    instance: dg.DagsterInstance,
) -> None:
    _materialize(instance, A)
    _materialize(instance, B)
    latest_a = _materialize(instance, A)
    key = dg.AssetKey("table")
    report = purge_runs(instance, before=_later())
    assert len(report.deleted_runs) == 3
    assert instance.get_run_records() == []
    assert report.carried_materializations == 2  # the first run's A was superseded
    assert instance.get_materialized_partitions(key) == {A, B}
    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[A]), limit=1
    ).records
    assert record.run_id == ""  # runless
    metadata = record.asset_materialization.metadata
    assert metadata["retained_from_run"].value == latest_a
    assert metadata["rows"].value == len(latest_a)


def test_without_carrying_over_a_deleted_run_takes_its_partition_status_with_it(
    instance: dg.DagsterInstance,
) -> None:
    """Why the carry-over exists: Dagster's delete_run removes the run's materializations."""
    run_id = _materialize(instance, A)
    instance.delete_run(run_id)
    assert instance.get_materialized_partitions(dg.AssetKey("table")) == set()


def test_recent_runs_and_failures_are_kept(instance: dg.DagsterInstance) -> None:
    recent = _materialize(instance, A)
    failed = dg.materialize([failing], instance=instance, raise_on_error=False)
    assert not failed.success
    assert purge_runs(instance, before=datetime.now(UTC) - timedelta(days=1)).deleted_runs == []
    report = purge_runs(instance, before=_later())
    assert report.deleted_runs == [recent]
    assert [r.dagster_run.run_id for r in instance.get_run_records()] == [failed.run_id]
    report = purge_runs(instance, before=_later(), failed_before=_later())
    assert report.deleted_runs == [failed.run_id]


def test_a_second_pass_carries_nothing_twice(instance: dg.DagsterInstance) -> None:
    _materialize(instance, A)
    purge_runs(instance, before=_later())
    _materialize(instance, B)
    report = purge_runs(instance, before=_later())
    assert report.carried_materializations == 1
    records = instance.fetch_materializations(dg.AssetKey("table"), limit=10).records
    assert len(records) == 2
