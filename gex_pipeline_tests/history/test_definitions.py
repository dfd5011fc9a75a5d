"""The history domain's definitions surface and settings (names users and run history rely on)."""

from __future__ import annotations

import dagster as dg
import pytest

from gex_pipeline.definitions import defs
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.settings import Settings


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs().get_repository_def()


def test_history_job_imports_into_the_tables_and_exports_in_one_run(repository):
    job = repository.get_job("gex_history_job")
    selected = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert selected == {"gex_snapshots", "gex_strikes", "gex_parquet"}
    assert repository.get_sensor_def("gex_history_sensor").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )


def test_history_sources_are_external_assets_upstream_of_the_tables(repository):
    graph = repository.asset_graph
    for source in ("staging/history_requests", "source/gexbot_day_files"):
        key = dg.AssetKey.from_user_string(source)
        assert not graph.get(key).is_materializable
        assert {dg.AssetKey("gex_snapshots"), dg.AssetKey("gex_strikes")} <= graph.get(
            key
        ).child_keys


def test_table_rebuild_is_in_the_duckdb_writer_pool(repository):
    for name in ("gex_snapshots", "gex_strikes"):
        assert repository.asset_graph.get(dg.AssetKey(name)).pools == {DUCKDB_WRITER_POOL}


def test_history_sensor_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GEX_HISTORY_SENSOR_INTERVAL_SECONDS", "2")
    sensor = defs().get_repository_def().get_sensor_def("gex_history_sensor")
    assert sensor.minimum_interval_seconds == 2


def test_history_settings_read_limits_from_the_environment():
    settings = Settings.from_env(
        {
            "GEX_HISTORY_MAX_BYTES": "1000",
            "GEX_HISTORY_TIMEOUT_SECONDS": "7",
            "GEX_HISTORY_RETRIES": "1",
            "GEX_HISTORY_SHRINK_PERCENT": "80",
            "GEX_HISTORY_DUCKDB_MEMORY_LIMIT": "512MiB",
        }
    ).history
    assert (settings.limits.max_bytes, settings.limits.read_timeout) == (1000, 7.0)
    assert settings.limits.retries == 1
    assert settings.shrink_ratio == 0.8
    assert settings.duckdb_memory_limit == "512MiB"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GEX_HISTORY_DUCKDB_MEMORY_LIMIT", "1GB'; DROP TABLE gex_strikes; --"),
        ("GEX_HISTORY_SHRINK_PERCENT", "150"),
        ("GEX_HISTORY_SENSOR_INTERVAL_SECONDS", "0"),
        ("GEX_HISTORY_MAX_BYTES", "lots"),
        ("GEX_HISTORY_BACKUP_RETENTION_DAYS", "-1"),
    ],
)
def test_malformed_history_setting_is_refused_naming_the_variable(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
