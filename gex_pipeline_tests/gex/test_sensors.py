"""The export sensor, evaluated with `build_sensor_context` on a test instance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_STRIKES
from gex_pipeline.defs.gex.sensors import (
    ExportCursor,
    build_export_sensor,
    due_partitions,
)
from gex_pipeline.settings import PipelineSettings

SPX_KEY = "2025-11-14|SPX.gex_zero"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


def _report_strikes(
    instance: dg.DagsterInstance, partition: str, *, exported: bool = False
) -> None:
    """Log a gex_strikes materialization from a run, as an import or a backfill does (and a
    gex_parquet one after it, as a table rebuild's run does, when `exported`)."""

    @dg.op
    def emit(context) -> None:  # unannotated: this module uses postponed annotations
        context.log_event(dg.AssetMaterialization(GEX_STRIKES, partition=partition))
        if exported:
            context.log_event(dg.AssetMaterialization(GEX_PARQUET, partition=partition))

    @dg.job
    def report() -> None:
        emit()

    assert report.execute_in_process(instance=instance).success


def _export_tick(instance, cursor: str | None, quiet: int):
    sensor = build_export_sensor(PipelineSettings(export_quiet_seconds=quiet))
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_export_sensor_requests_a_quiet_changed_partition(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    result = _export_tick(instance, None, quiet=0)
    assert [r.partition_key for r in result.run_requests] == [SPX_KEY]
    assert ExportCursor.parse(result.cursor).pending == {}


def test_export_sensor_waits_while_a_partition_keeps_changing(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    result = _export_tick(instance, None, quiet=3600)
    assert result.run_requests == []
    assert "1 changed partition(s) waiting" in result.skip_reason.skip_message
    assert list(ExportCursor.parse(result.cursor).pending) == [SPX_KEY]


def test_export_sensor_does_not_export_twice_for_one_change(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    first = _export_tick(instance, None, quiet=0)
    second = _export_tick(instance, first.cursor, quiet=0)
    assert second.run_requests == []
    assert "no gex_strikes partition changed" in second.skip_reason.skip_message


def test_export_sensor_skips_a_partition_its_own_run_already_exported(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY, exported=True)
    result = _export_tick(instance, None, quiet=0)
    assert result.run_requests == []
    assert ExportCursor.parse(result.cursor).pending == {}


def test_due_partitions_are_those_quiet_long_enough() -> None:
    pending = {"a": 100.0, "b": 150.0, "c": 190.0}
    assert due_partitions(pending, now=200.0, quiet_seconds=50) == ["a", "b"]


def test_export_cursor_round_trips() -> None:
    cursor = ExportCursor(after_storage_id=7, pending={SPX_KEY: 12.5})
    assert ExportCursor.parse(cursor.dump()) == cursor
    assert json.loads(cursor.dump())["after"] == 7
