"""Snapshot of the definitions surface: renames break run history and users' bookmarks."""

from __future__ import annotations

import dagster as dg
import pytest

from gex_pipeline.definitions import defs
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_SNAPSHOTS
from gex_pipeline.defs.partitions import gex_partitions
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL

PARQUET_RECONCILIATION = dg.AssetCheckKey(GEX_PARQUET, "parquet_reconciliation")


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs().get_repository_def()


def test_gex_asset_keys_are_stable(repository: dg.RepositoryDefinition) -> None:
    graph = repository.asset_graph
    keys = sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == "gex"
    )
    assert keys == ["gex_parquet", "gex_snapshots", "gex_strikes"]


def test_gex_checks_are_stable(repository: dg.RepositoryDefinition) -> None:
    graph = repository.asset_graph
    checks = sorted(
        key.to_user_string()
        for key in graph.asset_check_keys
        if graph.get(key.asset_key).group_name == "gex"
    )
    assert checks == [
        "gex_parquet:parquet_freshness",
        "gex_parquet:parquet_reconciliation",
        "gex_snapshots:feed_freshness",
        "gex_snapshots:history_dropped_rows",
        "gex_snapshots:history_foreign_rows",
        "gex_snapshots:live_history_drift",
        "gex_snapshots:out_of_session_rows",
        "gex_snapshots:session_coverage",
        "gex_snapshots:spot_spikes",
        "gex_snapshots:timestamp_gaps",
        "gex_snapshots:trade_date_mismatch",
        "gex_snapshots:zero_snapshots",
        "gex_strikes:duplicate_rows",
    ]


def test_gex_integrity_checks_are_described_partitioned_and_error_ones_block(
    repository: dg.RepositoryDefinition,
) -> None:
    graph = repository.asset_graph
    checks = [
        graph.get_check_spec(k) for k in graph.asset_check_keys if k.name != "no_rejected_segments"
    ]
    checks = [c for c in checks if graph.get(c.asset_key).group_name == "gex"]
    assert all(c.description and "\n" not in c.description for c in checks)
    assert all(c.partitions_def is not None for c in checks)
    assert sorted(c.key.to_user_string() for c in checks if c.blocking) == [
        "gex_snapshots:history_foreign_rows",
        "gex_snapshots:trade_date_mismatch",
        "gex_strikes:duplicate_rows",
    ]


def test_gex_integrity_job_is_partitioned_like_the_tables(
    repository: dg.RepositoryDefinition,
) -> None:
    job = repository.get_job("gex_integrity_job")
    assert job.partitions_def == gex_partitions


def test_gex_jobs_and_sensors_are_stable(repository: dg.RepositoryDefinition) -> None:
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"gex_parquet_job", "gex_integrity_job"} <= jobs
    sensors = {sensor.name for sensor in repository.sensor_defs}
    assert {"parquet_export_sensor", "gex_freshness_sensor"} <= sensors


def test_the_code_location_has_four_sensors(repository: dg.RepositoryDefinition) -> None:
    """Every sensor tick costs the idle stack CPU (issue 8): one sensor per job of watching."""
    assert sorted(s.name for s in repository.sensor_defs) == [
        "alert_sensor",
        "gex_freshness_sensor",
        "gex_history_sensor",
        "parquet_export_sensor",
    ]


def test_live_data_launches_no_runs(repository: dg.RepositoryDefinition) -> None:
    """Live arrival is loaded by the live loader outside runs: no live job, asset or sensor."""
    names = {job.name for job in repository.get_all_jobs()}
    names |= {sensor.name for sensor in repository.sensor_defs}
    names |= {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert not {name for name in names if "live" in name}


def test_duckdb_writing_assets_are_in_the_writer_pool(repository: dg.RepositoryDefinition) -> None:
    graph = repository.asset_graph
    for name in ("gex_parquet", "gex_snapshots", "gex_strikes"):
        node = graph.get(dg.AssetKey(name))
        assert node.pools == {DUCKDB_WRITER_POOL}, name


def test_integrity_checks_are_in_the_writer_pool(repository: dg.RepositoryDefinition) -> None:
    graph = repository.asset_graph
    for key in (dg.AssetCheckKey(GEX_SNAPSHOTS, "timestamp_gaps"), PARQUET_RECONCILIATION):
        assert graph.assets_def_for_key(key).op.pool == DUCKDB_WRITER_POOL, key.name


def test_gex_sensors_start_running(repository: dg.RepositoryDefinition) -> None:
    for name in ("parquet_export_sensor", "gex_freshness_sensor"):
        assert repository.get_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


def test_sensor_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEX_EXPORT_SENSOR_INTERVAL_SECONDS", "3")
    sensor = defs().get_repository_def().get_sensor_def("parquet_export_sensor")
    assert sensor.minimum_interval_seconds == 3


def test_malformed_interval_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEX_LIVE_POLL_MS", "0")
    with pytest.raises(ValueError, match="GEX_LIVE_POLL_MS"):
        defs()


def test_webhook_definitions_are_stable(repository: dg.RepositoryDefinition) -> None:
    graph = repository.asset_graph
    keys = sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == "webhooks"
    )
    assert keys == [
        "market_agg_state",
        "option_trades_events",
        "option_trades_parquet",
        "universal_webhooks",
    ]
    checks = sorted(
        key.to_user_string()
        for key in graph.asset_check_keys
        if graph.get(key.asset_key).group_name == "webhooks"
    )
    assert checks == [
        "option_trades_events:executed_at_in_day",
        "option_trades_events:occ_symbols_parse",
        "option_trades_events:trade_cast_failures",
        "option_trades_events:unique_trade_ids",
        "universal_webhooks:stream_freshness",
    ]
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"option_trades_parquet_job", "option_trades_checks_job"} <= jobs


def test_webhook_tables_are_partitioned_by_trading_session(
    repository: dg.RepositoryDefinition,
) -> None:
    for name in ("universal_webhooks", "option_trades_events", "market_agg_state"):
        partitions = repository.asset_graph.get(dg.AssetKey(name)).partitions_def
        assert isinstance(partitions, dg.TimeWindowPartitionsDefinition), name
        assert partitions.timezone == "America/New_York", name
        assert partitions.has_partition_key("2025-11-28"), name  # early close
        assert not partitions.has_partition_key("2025-11-27"), name  # Thanksgiving
        assert not partitions.has_partition_key("2025-11-29"), name  # Saturday
