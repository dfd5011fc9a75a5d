"""The webhook batch asset, materialized against a temp DuckDB and a persistent test instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.resources import DuckDBDatabase, StagingArea
from gex_pipeline.defs.webhooks.assets import (
    OPTION_TRADES_EVENTS,
    uw_live_batch,
    webhook_table_specs,
)
from gex_pipeline.lib.db.connection import connect
from gex_pipeline_tests.support.staging_trees import UwStagingTree

DAY_KEY = "2025-11-14"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


@pytest.fixture
def resources(data_dir: Path) -> dict[str, dg.ConfigurableResource]:
    return {
        "duckdb_database": DuckDBDatabase(database=str(data_dir / "gex_data.db")),
        "staging": StagingArea(root=str(data_dir / "staging"), retention_days=7),
    }


def _load(instance, resources, upper_seq: int) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [uw_live_batch, *webhook_table_specs],
        selection=[uw_live_batch],
        resources=resources,
        instance=instance,
        run_config={"ops": {"uw_live_batch": {"config": {"upper_seq": upper_seq}}}},
        raise_on_error=False,
    )


def _count(data_dir: Path, table: str) -> int:
    with connect(data_dir / "gex_data.db", read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _trade(trade_id: str, executed_at: str, price: str = "1.5") -> list[object]:
    data = {"id": trade_id, "executed_at": executed_at, "price": price, "size": 10}
    data["option_chain_id"] = "SPXW251114P06700000"
    return [None, None, "option_trades_super_algo:SPX", "new_msg", {"data": data}]


def _reported(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    return sorted(
        (e.asset_key.to_user_string(), e.partition)
        for e in result.get_asset_materialization_events()
        if e.partition
    )


def test_batch_reports_each_affected_trading_date_of_each_table(
    instance, resources, uw_staging: UwStagingTree
) -> None:
    messages = [*uw_staging.messages(30), _trade("next-day", "2025-11-17T15:00:00Z")]
    segment = uw_staging.seal(uw_staging.records(messages))
    result = _load(instance, resources, segment.seq)
    assert result.success
    assert _reported(result) == [
        ("market_agg_state", DAY_KEY),
        ("option_trades_events", DAY_KEY),
        ("option_trades_events", "2025-11-17"),
        ("universal_webhooks", DAY_KEY),
        ("universal_webhooks", "2025-11-17"),
    ]


def test_day_materialization_carries_counts_casts_and_preview(
    instance, resources, uw_staging: UwStagingTree
) -> None:
    records = uw_staging.records(
        [
            _trade("a", "2025-11-14T15:00:00Z"),
            _trade("b", "2025-11-14T15:00:01Z", price="n/a"),
            _trade("a", "2025-11-14T15:00:00Z"),
        ]
    )
    segment = uw_staging.seal(records)
    result = _load(instance, resources, segment.seq)
    event = instance.get_latest_materialization_event(OPTION_TRADES_EVENTS)
    metadata = event.asset_materialization.metadata
    assert event.asset_materialization.partition == DAY_KEY
    assert metadata["dagster/row_count"].value == 2
    assert metadata["duplicates_skipped"].value == 1
    assert metadata["cast_failures"].value == 1
    assert "| executed_at | option_chain_id |" in metadata["preview"].value
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"no_rejected_segments": True, "no_cast_failures": False}


def test_segments_move_to_processed_after_the_load(
    instance, resources, data_dir: Path, uw_staging: UwStagingTree
) -> None:
    loaded = uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z")]))
    later = uw_staging.seal(uw_staging.records([_trade("b", "2025-11-14T15:00:01Z")]))
    _load(instance, resources, loaded.seq)
    assert [p.name for p in uw_staging.dirs.processed.iterdir()] == [loaded.name]
    assert [p.name for p in uw_staging.dirs.sealed.iterdir()] == [later.name]
    assert _count(data_dir, "option_trades_events") == 1


def test_rerunning_a_batch_changes_nothing(
    instance, resources, data_dir: Path, uw_staging: UwStagingTree
) -> None:
    segment = uw_staging.seal(uw_staging.records(uw_staging.messages(30)))
    _load(instance, resources, segment.seq)
    counts = [_count(data_dir, t) for t in ("universal_webhooks", "option_trades_events")]
    again = _load(instance, resources, segment.seq)
    assert again.success
    assert [_count(data_dir, t) for t in ("universal_webhooks", "option_trades_events")] == counts


def test_run_failing_after_commit_is_retried_to_the_same_tables(
    instance, resources, data_dir: Path, uw_staging: UwStagingTree
) -> None:
    records = uw_staging.records(uw_staging.messages(30))
    segment = uw_staging.seal(records)
    uw_staging.dirs.processed.rmdir()
    uw_staging.dirs.processed.write_text("not a directory")  # the move after commit fails
    failed = _load(instance, resources, segment.seq)
    assert not failed.success
    assert segment.path.exists()
    uw_staging.dirs.processed.unlink()
    retried = _load(instance, resources, segment.seq)
    assert retried.success
    assert _count(data_dir, "universal_webhooks") == len(records)
    assert (uw_staging.dirs.processed / segment.name).exists()
    assert ("universal_webhooks", DAY_KEY) in _reported(retried)


def test_unloadable_segment_is_set_aside_and_fails_the_check(
    instance, resources, data_dir: Path, uw_staging: UwStagingTree
) -> None:
    good = uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z")]))
    bad_records = uw_staging.records([_trade("b", "2025-11-14T15:00:01Z")])
    bad_records[0]["channel"] = ""
    bad = uw_staging.seal(bad_records)
    result = _load(instance, resources, bad.seq)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_rejected_segments"] is False
    rejected = uw_staging.dirs.root / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [bad.name, f"{bad.name}.error.txt"]
    assert "'channel'" in (rejected / f"{bad.name}.error.txt").read_text()
    assert [p.name for p in uw_staging.dirs.processed.iterdir()] == [good.name]
    assert _count(data_dir, "universal_webhooks") == 1


def test_day_outside_the_partitions_is_stored_but_not_reported(
    instance, resources, data_dir: Path, uw_staging: UwStagingTree
) -> None:
    segment = uw_staging.seal(uw_staging.records([_trade("old", "2019-06-03T15:00:00Z")]))
    result = _load(instance, resources, segment.seq)
    assert result.success
    assert _reported(result) == []
    assert _count(data_dir, "option_trades_events") == 1


def test_conflicts_are_reported_on_the_batch(
    instance, resources, uw_staging: UwStagingTree
) -> None:
    first = uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z", "1.0")]))
    _load(instance, resources, first.seq)
    second = uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z", "2.0")]))
    result = _load(instance, resources, second.seq)
    batch = next(e for e in result.get_asset_materialization_events() if not e.partition)
    assert batch.materialization.metadata["conflicts"].value == 1
