"""The live and export sensors, evaluated with `build_sensor_context` on crafted staging trees."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.gex.assets import GEX_PARQUET, GEX_STRIKES
from gex_pipeline.defs.gex.sensors import (
    ExportCursor,
    build_export_sensor,
    build_live_sensor,
    due_partitions,
)
from gex_pipeline.defs.live import live_run_key
from gex_pipeline.defs.resources import StagingArea
from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline_tests.support.staging_trees import GexStagingTree

SPX_KEY = "2025-11-14|SPX.gex_zero"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


def _tick(instance, staging_dir: Path, cursor: str | None = None, **settings: int):
    sensor = build_live_sensor(PipelineSettings(**settings))
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"staging": StagingArea(root=str(staging_dir))},
    )
    return sensor(context)


def test_live_sensor_skips_with_a_reason_when_nothing_is_sealed(
    instance, gex_staging: GexStagingTree
) -> None:
    result = _tick(instance, gex_staging.staging_dir)
    assert isinstance(result, dg.SkipReason)
    assert "no sealed /gex segment" in result.skip_message


def test_live_sensor_requests_one_run_for_all_feeds_and_segments(
    instance, gex_staging: GexStagingTree
) -> None:
    segments = [
        gex_staging.seal([gex_staging.record(ticker), gex_staging.record(ticker, "gex_one")])
        for ticker in ("SPX", "NQ_NDX", "ES_SPX", "VIX")
    ]
    result = _tick(instance, gex_staging.staging_dir)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.run_key == live_run_key(segments[0].seq, segments[-1].seq, "gex_live")
    assert request.run_config["ops"]["gex_live_batch"]["config"]["upper_seq"] == segments[-1].seq
    assert result.cursor == str(segments[-1].seq)


def test_live_sensor_adds_new_feeds_in_the_same_tick(instance, gex_staging: GexStagingTree) -> None:
    gex_staging.seal([gex_staging.record("SPX"), gex_staging.record("NQ_NDX", "gex_full")])
    result = _tick(instance, gex_staging.staging_dir)
    [request] = result.dynamic_partitions_requests
    assert request.partitions_def_name == "feed"
    assert list(request.partition_keys) == ["NQ_NDX.gex_full", "SPX.gex_zero"]


def test_live_sensor_does_not_re_add_known_feeds(instance, gex_staging: GexStagingTree) -> None:
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    gex_staging.seal([gex_staging.record("SPX"), gex_staging.record("QQQ")])
    result = _tick(instance, gex_staging.staging_dir)
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests] == [
        ["QQQ.gex_zero"]
    ]


def test_live_sensor_only_sees_segments_above_its_cursor(
    instance, gex_staging: GexStagingTree
) -> None:
    first = gex_staging.seal([gex_staging.record()])
    second = gex_staging.seal([gex_staging.record()])
    result = _tick(instance, gex_staging.staging_dir, cursor=str(first.seq))
    assert result.run_requests[0].run_key == live_run_key(second.seq, second.seq, "gex_live")
    assert isinstance(
        _tick(instance, gex_staging.staging_dir, cursor=str(second.seq)), dg.SkipReason
    )


def test_live_sensor_caps_a_backlog_and_continues_next_tick(
    instance, gex_staging: GexStagingTree
) -> None:
    segments = [gex_staging.seal([gex_staging.record()]) for _ in range(5)]
    first = _tick(instance, gex_staging.staging_dir, live_max_segments_per_run=3)
    second = _tick(
        instance, gex_staging.staging_dir, cursor=first.cursor, live_max_segments_per_run=3
    )
    assert first.cursor == str(segments[2].seq)
    assert second.run_requests[0].run_key == live_run_key(
        segments[3].seq, segments[4].seq, "gex_live"
    )


def _report_strikes(
    instance: dg.DagsterInstance, partition: str, *, exported: bool = False
) -> None:
    """Log a gex_strikes materialization from a run, as the live batch does (and a gex_parquet one
    after it, as a table rebuild's run does, when `exported`)."""

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


def test_live_sensor_requests_again_segments_left_sealed_past_the_stale_period(
    instance, gex_staging: GexStagingTree
) -> None:
    old_seq = time.time_ns() - 20 * 60 * 1_000_000_000
    left = gex_staging.seal([gex_staging.record()], seq=old_seq)
    result = _tick(instance, gex_staging.staging_dir, cursor=str(left.seq), live_stale_seconds=600)
    [request] = result.run_requests
    assert request.run_key.startswith(live_run_key(left.seq, left.seq, "gex_live") + ":retry-")
    assert request.run_config["ops"]["gex_live_batch"]["config"]["upper_seq"] == left.seq
    assert result.cursor == str(left.seq)


def test_live_sensor_leaves_recent_leftovers_to_their_pending_run(
    instance, gex_staging: GexStagingTree
) -> None:
    left = gex_staging.seal([gex_staging.record()])
    result = _tick(instance, gex_staging.staging_dir, cursor=str(left.seq), live_stale_seconds=600)
    assert isinstance(result, dg.SkipReason)
