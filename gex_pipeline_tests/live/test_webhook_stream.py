"""The live loader on the /uw stream: messages once, each touched table and day reported."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.webhooks.assets import (
    MARKET_AGG_STATE,
    OPTION_TRADES_EVENTS,
    UNIVERSAL_WEBHOOKS,
)
from gex_pipeline_tests.support.staging_trees import UwStagingTree

DAY_KEY = "2025-11-14"


def _trade(trade_id: str, executed_at: str, price: str = "1.5") -> list[object]:
    data = {"id": trade_id, "executed_at": executed_at, "price": price, "size": 10}
    data["option_chain_id"] = "SPXW251114P06700000"
    return [None, None, "option_trades_super_algo:SPX", "new_msg", {"data": data}]


def _reported(instance: dg.DagsterInstance) -> list[tuple[str, str | None]]:
    records = []
    for key in (UNIVERSAL_WEBHOOKS, OPTION_TRADES_EVENTS, MARKET_AGG_STATE):
        result = instance.fetch_materializations(dg.AssetRecordsFilter(key), limit=100)
        records += [(key.to_user_string(), r.partition_key) for r in result.records]
    return sorted(records)


def test_loader_reports_each_touched_table_and_day(
    loader, instance, uw_staging: UwStagingTree
) -> None:
    uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z")]))
    loader.run_once()
    assert _reported(instance) == [
        ("option_trades_events", DAY_KEY),
        ("universal_webhooks", DAY_KEY),
    ]


def test_day_materialization_carries_counts_and_casts(
    loader, instance, uw_staging: UwStagingTree
) -> None:
    records = uw_staging.records(
        [
            _trade("a", "2025-11-14T15:00:00Z"),
            _trade("b", "2025-11-14T15:00:01Z", price="n/a"),
            _trade("a", "2025-11-14T15:00:00Z"),
        ]
    )
    uw_staging.seal(records)
    loader.run_once()
    event = instance.get_latest_materialization_event(OPTION_TRADES_EVENTS)
    metadata = event.asset_materialization.metadata
    assert event.asset_materialization.partition == DAY_KEY
    assert metadata["dagster/row_count"].value == 2
    assert metadata["duplicates_skipped"].value == 1
    assert metadata["cast_failures"].value == 1
    assert "preview" not in metadata


def test_reloading_the_same_messages_changes_nothing(loader, count, uw_staging) -> None:
    records = uw_staging.records(uw_staging.messages(30))
    first = uw_staging.seal(records)
    loader.run_once()
    counts = [count(t) for t in ("universal_webhooks", "option_trades_events")]
    (uw_staging.dirs.processed / first.name).rename(first.path)  # as if the move never happened
    loader.run_once()
    assert [count(t) for t in ("universal_webhooks", "option_trades_events")] == counts


def test_unloadable_segment_is_set_aside(loader, count, uw_staging: UwStagingTree) -> None:
    good = uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z")]))
    bad_records = uw_staging.records([_trade("b", "2025-11-14T15:00:01Z")])
    bad_records[0]["channel"] = ""
    bad = uw_staging.seal(bad_records)
    loader.run_once()
    rejected = uw_staging.dirs.root / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [bad.name, f"{bad.name}.error.txt"]
    assert "'channel'" in (rejected / f"{bad.name}.error.txt").read_text()
    assert [p.name for p in uw_staging.dirs.processed.iterdir()] == [good.name]
    assert count("universal_webhooks") == 1


def test_day_outside_the_partitions_is_stored_but_not_reported(
    loader, instance, count, uw_staging: UwStagingTree
) -> None:
    uw_staging.seal(uw_staging.records([_trade("old", "2019-06-03T15:00:00Z")]))
    loader.run_once()
    assert _reported(instance) == []
    assert count("option_trades_events") == 1


def test_conflicts_are_reported_on_the_day(loader, instance, clock, uw_staging) -> None:
    uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z", "1.0")]))
    loader.run_once()
    clock.now += 181
    uw_staging.seal(uw_staging.records([_trade("a", "2025-11-14T15:00:00Z", "2.0")]))
    loader.run_once()
    event = instance.get_latest_materialization_event(UNIVERSAL_WEBHOOKS)
    assert event.asset_materialization.metadata["conflicts"].value == 1
