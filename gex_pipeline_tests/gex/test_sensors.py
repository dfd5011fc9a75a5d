"""The Parquet export sensor (gex and option trades), evaluated with `build_sensor_context`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.export_sensor import (
    ExportCursor,
    build_export_sensor,
    due_partitions,
    dump_cursor,
    parse_cursor,
)
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_STRIKES
from gex_pipeline.defs.webhooks.assets import OPTION_TRADES_EVENTS
from gex_pipeline.defs.webhooks.parquet import OPTION_TRADES_PARQUET
from gex_pipeline.settings import PipelineSettings

SPX_KEY = "2025-11-14|SPX.gex_zero"
DAY_KEY = "2025-11-14"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


def _report_strikes(
    instance: dg.DagsterInstance, partition: str, *, exported: bool = False
) -> None:
    """Log a gex_strikes materialization from a run, as an import or a backfill does (and a
    gex_parquet one after it, as a table rebuild's run does, when `exported`)."""
    _report(instance, GEX_STRIKES, GEX_PARQUET if exported else None, partition)


def _report(
    instance: dg.DagsterInstance, table: dg.AssetKey, export: dg.AssetKey | None, partition: str
) -> None:
    @dg.op
    def emit(context) -> None:  # unannotated: this module uses postponed annotations
        context.log_event(dg.AssetMaterialization(table, partition=partition))
        if export is not None:
            context.log_event(dg.AssetMaterialization(export, partition=partition))

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
    assert parse_cursor(result.cursor)["gex"].pending == {}


def test_export_sensor_waits_while_a_partition_keeps_changing(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    result = _export_tick(instance, None, quiet=3600)
    assert result.run_requests == []
    assert "1 changed partition(s) waiting" in result.skip_reason.skip_message
    assert list(parse_cursor(result.cursor)["gex"].pending) == [SPX_KEY]


def test_export_sensor_does_not_export_twice_for_one_change(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    first = _export_tick(instance, None, quiet=0)
    second = _export_tick(instance, first.cursor, quiet=0)
    assert second.run_requests == []
    assert "0 changed partition(s) waiting" in second.skip_reason.skip_message


def test_export_sensor_skips_a_partition_its_own_run_already_exported(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY, exported=True)
    result = _export_tick(instance, None, quiet=0)
    assert result.run_requests == []
    assert parse_cursor(result.cursor)["gex"].pending == {}


def test_due_partitions_are_those_quiet_long_enough() -> None:
    pending = {"a": 100.0, "b": 150.0, "c": 190.0}
    assert due_partitions(pending, now=200.0, quiet_seconds=50) == ["a", "b"]


def test_export_cursor_round_trips() -> None:
    cursors = parse_cursor(None)
    cursors["gex"] = ExportCursor(after_storage_id=7, pending={SPX_KEY: 12.5})
    assert parse_cursor(dump_cursor(cursors)) == cursors
    assert json.loads(dump_cursor(cursors))["gex"]["after"] == 7


def test_one_tick_exports_gex_and_option_trades_with_their_own_jobs(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    _report(instance, OPTION_TRADES_EVENTS, None, DAY_KEY)
    result = _export_tick(instance, None, quiet=0)
    requested = {(r.job_name, r.partition_key) for r in result.run_requests}
    assert requested == {("gex_parquet_job", SPX_KEY), ("option_trades_parquet_job", DAY_KEY)}
    assert all(c.pending == {} for c in parse_cursor(result.cursor).values())


def test_option_trades_already_exported_after_the_change_are_skipped(instance) -> None:
    _report(instance, OPTION_TRADES_EVENTS, OPTION_TRADES_PARQUET, DAY_KEY)
    result = _export_tick(instance, None, quiet=0)
    assert result.run_requests == []


def test_each_table_keeps_its_own_position_in_the_event_log(instance) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    _report_strikes(instance, SPX_KEY)
    first = _export_tick(instance, None, quiet=3600)
    _report(instance, OPTION_TRADES_EVENTS, None, DAY_KEY)
    second = _export_tick(instance, first.cursor, quiet=3600)
    cursors = parse_cursor(second.cursor)
    assert list(cursors["gex"].pending) == [SPX_KEY]
    assert list(cursors["option_trades"].pending) == [DAY_KEY]
    assert cursors["option_trades"].after_storage_id > cursors["gex"].after_storage_id
