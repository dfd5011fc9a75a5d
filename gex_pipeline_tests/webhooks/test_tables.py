"""`webhook_tables`: materializing a trading date rebuilds the /uw tables from processed staging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.webhooks.tables import webhook_tables
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.staging.reader import move_to_processed
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline_tests.support.lake import lake_delete, lake_rows, settle
from gex_pipeline_tests.support.resources import tables_for
from gex_pipeline_tests.support.staging_trees import UwStagingTree

DAY = "2025-11-14"
COUNTS = (
    "SELECT (SELECT count(*) FROM universal_webhooks), (SELECT count(*) FROM option_trades_events),"
    " (SELECT count(*) FROM market_agg_state)"
)


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


@pytest.fixture
def loaded(data_dir: Path) -> list[tuple]:
    """Two /uw segments loaded live, moved to processed/ and sealed into the lake."""
    uw = UwStagingTree(data_dir / "staging")
    segments = [uw.seal(uw.records(uw.messages(60, seed=s))) for s in (1, 2)]
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        load_uw_segments(con, segments)
    move_to_processed(uw.dirs, [s.name for s in segments])
    settle(data_dir)
    return lake_rows(data_dir, COUNTS)


def _materialize(instance: dg.DagsterInstance, data_dir: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [webhook_tables],
        partition_key=DAY,
        instance=instance,
        resources={"tables": tables_for(data_dir)},
        raise_on_error=False,
    )


def test_a_date_is_rebuilt_from_its_processed_segments(instance, data_dir, loaded) -> None:
    assert loaded[0][0] > 0 and loaded[0][1] > 0
    lake_delete(data_dir, "option_trades_events", f"trade_date = '{DAY}'")
    assert lake_rows(data_dir, COUNTS)[0][1] == 0
    result = _materialize(instance, data_dir)
    assert result.success
    assert lake_rows(data_dir, COUNTS) == loaded
    event = instance.get_latest_materialization_event(dg.AssetKey("option_trades_events"))
    assert event is not None and event.asset_materialization.partition == DAY
    assert event.asset_materialization.metadata["staging_segments"].value == 2


def test_a_date_whose_segments_were_purged_fails_and_changes_nothing(
    instance, data_dir, loaded
) -> None:
    processed = data_dir / "staging" / "uw" / "processed"
    next(iter(sorted(processed.iterdir()))).unlink()
    result = _materialize(instance, data_dir)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "purged" in failure.event_specific_data.error.message
    assert lake_rows(data_dir, COUNTS) == loaded
