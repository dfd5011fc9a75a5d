"""The webhook sensor, evaluated with `build_sensor_context` on crafted staging trees."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.live import live_run_key
from gex_pipeline.defs.resources import StagingArea
from gex_pipeline.defs.settings import PipelineSettings
from gex_pipeline.defs.webhooks.sensors import build_uw_live_sensor
from gex_pipeline_tests.support.staging_trees import GexStagingTree, UwStagingTree


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


def _tick(instance, staging_dir: Path, cursor: str | None = None, **settings: int):
    sensor = build_uw_live_sensor(PipelineSettings(**settings))
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"staging": StagingArea(root=str(staging_dir))},
    )
    return sensor(context)


def _segment(tree: UwStagingTree, count: int = 5):
    return tree.seal(tree.records(tree.messages(count)))


def test_uw_sensor_skips_with_a_reason_when_nothing_is_sealed(
    instance, uw_staging: UwStagingTree
) -> None:
    result = _tick(instance, uw_staging.staging_dir)
    assert isinstance(result, dg.SkipReason)
    assert "no sealed /uw segment after seq 0" in result.skip_message


def test_uw_sensor_ignores_gex_segments(
    instance, uw_staging: UwStagingTree, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record()])
    assert isinstance(_tick(instance, uw_staging.staging_dir), dg.SkipReason)


def test_uw_sensor_requests_one_run_for_every_new_segment(
    instance, uw_staging: UwStagingTree
) -> None:
    segments = [_segment(uw_staging) for _ in range(4)]
    result = _tick(instance, uw_staging.staging_dir)
    [request] = result.run_requests
    assert request.run_key == live_run_key(segments[0].seq, segments[-1].seq, "uw_live")
    assert request.run_config["ops"]["uw_live_batch"]["config"] == {
        "lower_seq": segments[0].seq,
        "upper_seq": segments[-1].seq,
    }
    assert result.cursor == str(segments[-1].seq)


def test_uw_sensor_only_sees_segments_above_its_cursor(instance, uw_staging: UwStagingTree) -> None:
    first, second = _segment(uw_staging), _segment(uw_staging)
    result = _tick(instance, uw_staging.staging_dir, cursor=str(first.seq))
    assert result.run_requests[0].run_key == live_run_key(second.seq, second.seq, "uw_live")
    assert isinstance(
        _tick(instance, uw_staging.staging_dir, cursor=str(second.seq)), dg.SkipReason
    )


def test_uw_sensor_caps_a_backlog_and_continues_next_tick(
    instance, uw_staging: UwStagingTree
) -> None:
    segments = [_segment(uw_staging, 2) for _ in range(5)]
    first = _tick(instance, uw_staging.staging_dir, live_max_segments_per_run=3)
    second = _tick(
        instance, uw_staging.staging_dir, cursor=first.cursor, live_max_segments_per_run=3
    )
    assert first.cursor == str(segments[2].seq)
    assert second.run_requests[0].run_key == live_run_key(
        segments[3].seq, segments[4].seq, "uw_live"
    )


def test_uw_sensor_requests_again_segments_left_sealed_past_the_stale_period(
    instance, uw_staging: UwStagingTree
) -> None:
    old_seq = time.time_ns() - 20 * 60 * 1_000_000_000
    left = uw_staging.seal(uw_staging.records(uw_staging.messages(3)), seq=old_seq)
    result = _tick(instance, uw_staging.staging_dir, cursor=str(left.seq), live_stale_seconds=600)
    [request] = result.run_requests
    assert request.run_key.startswith(live_run_key(left.seq, left.seq, "uw_live") + ":retry-")
    assert request.run_config["ops"]["uw_live_batch"]["config"]["upper_seq"] == left.seq


def test_uw_sensor_leaves_recent_leftovers_to_their_pending_run(
    instance, uw_staging: UwStagingTree
) -> None:
    left = _segment(uw_staging)
    result = _tick(instance, uw_staging.staging_dir, cursor=str(left.seq), live_stale_seconds=600)
    assert isinstance(result, dg.SkipReason)


def test_webhook_definitions_do_not_import_polars() -> None:
    # duckdb comes with dagster-duckdb's DuckDBResource, the base of the DuckDBDatabase resource
    # (~0.1 s once per process; see docs/decisions.md); polars stays out of the code server.
    code = (
        "import sys\n"
        "import gex_pipeline.defs.webhooks.assets, gex_pipeline.defs.webhooks.sensors\n"
        "print(sorted(m for m in ('polars',) if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
