"""`gex_tables`: materializing a date x feed partition rebuilds it from what the pipeline keeps.

Real DuckDB files, real staging segments and day files, a real (temporary) Dagster instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import yaml

from gex_pipeline.cli.dagster_home import DAGSTER_YAML
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.gex.keys import GEX_TABLES
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.staging.reader import move_to_processed
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.lake import lake_delete, lake_of, lake_rows, settle
from gex_pipeline_tests.support.resources import tables_for
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

SPX_KEY = "2025-11-14|SPX.gex_zero"
RANGE = ("2025-11-12", "2025-11-13", "2025-11-14")


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    retries = {"run_retries": yaml.safe_load(DAGSTER_YAML)["run_retries"]}  # as shipped
    with dg.instance_for_test(
        temp_dir=str(data_dir / "dagster_home"), overrides=retries
    ) as instance:
        instance.add_dynamic_partitions("feed", ["SPX.gex_zero", "NQ_NDX.gex_one"])
        yield instance


def _resources(data_dir: Path) -> dict[str, object]:
    return {
        "tables": tables_for(data_dir),
        "parquet": build_resources(Settings.from_env())["parquet"],
    }


def _materialize(instance, data_dir, *, key=SPX_KEY, tags=None, parquet=False, force=False):
    return dg.materialize(
        [gex_tables],
        selection=None if parquet else dg.AssetSelection.assets(*GEX_TABLES),
        partition_key=key,
        instance=instance,
        resources=_resources(data_dir),
        tags=tags,
        run_config={"ops": {"gex_tables": {"config": {"force": force}}}},
        raise_on_error=False,
    )


def _materialize_range(instance, data_dir, first: str, last: str, feed: str = "SPX.gex_zero"):
    return dg.materialize(
        [gex_tables],
        instance=instance,
        resources=_resources(data_dir),
        tags={
            "dagster/asset_partition_range_start": f"{first}|{feed}",
            "dagster/asset_partition_range_end": f"{last}|{feed}",
        },
        raise_on_error=False,
    )


def _rows(data_dir: Path, sql: str) -> list[tuple]:
    settle(data_dir)
    return lake_rows(data_dir, sql)


def _slice(data_dir: Path) -> list[tuple]:
    return _rows(
        data_dir,
        "SELECT timestamp, strike, gamma, oi_gamma, priors FROM gex_strikes"
        " WHERE ticker = 'SPX' ORDER BY ALL",
    )


def _load_live(data_dir: Path, staging: GexStagingTree, batches: list[list[dict]]) -> None:
    """Load segments the way the live loader does, then move them to processed/."""
    for records in batches:
        segment = staging.seal(records)
        with connect(data_dir / "gex_data.db") as con:
            migrate(con)
            load_segments(con, [segment])
        move_to_processed(staging.dirs, [segment.name])


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.event_specific_data.error.message


def test_partition_is_rebuilt_from_processed_staging_segments(instance, data_dir, gex_staging):
    records = [
        gex_staging.record(timestamp=GEX_BASE_MS + i * 1000, spot=6700 + i) for i in range(4)
    ]
    other = gex_staging.record("NQ_NDX", "gex_one")
    _load_live(data_dir, gex_staging, [[*records[:2], other], records[2:]])
    before = _slice(data_dir)
    lake_delete(data_dir, "gex_strikes", f"ticker = 'SPX' AND timestamp > {GEX_BASE_MS}")

    result = _materialize(instance, data_dir)

    assert result.success
    assert _slice(data_dir) == before
    assert _rows(data_dir, "SELECT count(*) FROM gex_snapshots WHERE ticker = 'NQ_NDX'") == [(1,)]
    meta = instance.get_latest_materialization_event(dg.AssetKey("gex_strikes"))
    metadata = meta.asset_materialization.metadata
    assert meta.asset_materialization.partition == SPX_KEY
    assert metadata["source"].value == "staging"
    assert metadata["staging_segments"].value == 2
    assert metadata["dagster/row_count"].value == 12
    table, _, version = metadata["pre_image"].value.partition("@v")
    assert table == "gex_strikes"
    assert lake_of(data_dir).open("gex_strikes", int(version)) is not None  # the way back


def test_rebuild_from_staging_keeps_the_first_arrival_like_the_live_load(
    instance, data_dir, gex_staging
):
    first = gex_staging.record(spot=6701.0)
    later = gex_staging.record(spot=9999.0)  # same key, other content: a conflict, not stored
    _load_live(data_dir, gex_staging, [[first], [later]])
    result = _materialize(instance, data_dir)
    assert result.success
    assert _rows(data_dir, "SELECT spot FROM gex_snapshots") == [(6701.0,)]


def test_purged_staging_segments_refuse_the_rebuild_and_change_nothing(
    instance, data_dir, gex_staging
):
    _load_live(
        data_dir,
        gex_staging,
        [[gex_staging.record()], [gex_staging.record(timestamp=GEX_BASE_MS + 1000)]],
    )
    next(gex_staging.dirs.processed.iterdir()).unlink()
    before = _slice(data_dir)
    result = _materialize(instance, data_dir)
    assert not result.success
    assert "no longer in" in _failure_message(result)
    assert _slice(data_dir) == before


def test_partition_without_any_source_fails_without_retry_and_changes_nothing(instance, data_dir):
    result = _materialize(instance, data_dir)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no data for this feed-day" in failure.event_specific_data.error.message
    run = instance.get_run_by_id(result.run_id)
    assert run.tags["dagster/will_retry"] == "false"
    assert _rows(data_dir, "SELECT count(*) FROM gex_strikes") == [(0,)]


def test_kept_raw_file_wins_over_staging(instance, data_dir, gex_staging):
    _load_live(data_dir, gex_staging, [[gex_staging.record()]])
    raw = data_dir / "source" / "gexbot" / "SPX" / "gex_zero"
    make_day_file(raw, "2025-11-14", "SPX", snapshots=50, strikes=10)
    result = _materialize(instance, data_dir, force=True)
    assert result.success
    event = instance.get_latest_materialization_event(dg.AssetKey("gex_snapshots"))
    assert event.asset_materialization.metadata["source"].value == "raw_file"
    assert _rows(data_dir, "SELECT count(*) FROM gex_snapshots WHERE ticker = 'SPX'") == [(50,)]


def test_one_run_rebuilds_and_exports_a_range_of_dates_of_one_feed(instance, data_dir):
    raw = data_dir / "source" / "gexbot" / "SPX" / "gex_zero"
    for day in RANGE:
        make_day_file(raw, day, "SPX", snapshots=20, strikes=5)
    result = _materialize_range(instance, data_dir, RANGE[0], RANGE[-1])
    assert result.success
    for asset in ("gex_snapshots", "gex_strikes", "gex_parquet"):
        partitions = sorted(
            e.partition
            for e in result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == asset
        )
        assert partitions == [f"{day}|SPX.gex_zero" for day in RANGE], asset
    counts = _rows(
        data_dir, "SELECT trade_date, count(*) FROM gex_snapshots GROUP BY ALL ORDER BY ALL"
    )
    assert counts == [(date.fromisoformat(day), 20) for day in RANGE]
    assert (
        len(list((data_dir / "parquet" / "gexbot" / "SPX" / "gex_zero").glob("*.strikes.parquet")))
        == 3
    )
    export = instance.get_latest_materialization_event(dg.AssetKey("gex_parquet"))
    views = export.asset_materialization.metadata["reader_views"].value
    assert views == str(data_dir / "gex_views.duckdb") and Path(views).is_file()


def test_range_with_an_empty_day_exports_and_checks_the_others_and_fails_naming_it(
    instance, data_dir
):
    raw = data_dir / "source" / "gexbot" / "SPX" / "gex_zero"
    for day in (RANGE[0], RANGE[2]):
        make_day_file(raw, day, "SPX", snapshots=20, strikes=5)
    result = _materialize_range(instance, data_dir, RANGE[0], RANGE[-1])
    assert not result.success
    assert "no data for this feed-day (SPX gex_zero 2025-11-13)" in _failure_message(result)
    built = {f"{RANGE[0]}|SPX.gex_zero", f"{RANGE[2]}|SPX.gex_zero"}
    for asset in ("gex_snapshots", "gex_strikes", "gex_parquet"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == built, asset
    evaluations = [
        r.event_log_entry.asset_check_evaluation
        for r in instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    ]
    judged = {e.partition for e in evaluations}
    assert judged == built  # the empty day is not judged: nothing was built to judge
    checks = sorted(e.check_name for e in evaluations)
    assert checks.count("parquet_reconciliation") == 2 and checks.count("duplicate_rows") == 2


def test_live_report_and_rebuild_of_one_feed_day_share_the_partition_history(instance, data_dir):
    # The live loader reports runtime materializations for `YYYY-MM-DD|TICKER.endpoint` keys.
    instance.report_runless_asset_event(
        dg.AssetMaterialization(dg.AssetKey("gex_strikes"), partition=SPX_KEY)
    )
    make_day_file(data_dir / "source" / "gexbot" / "SPX" / "gex_zero", "2025-11-14", "SPX")
    assert _materialize(instance, data_dir).success
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(dg.AssetKey("gex_strikes"), asset_partitions=[SPX_KEY]), limit=10
    ).records
    assert len(records) == 2
    assert instance.get_materialized_partitions(dg.AssetKey("gex_strikes")) == {SPX_KEY}
