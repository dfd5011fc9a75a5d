"""The history domain's definitions surface and settings (names users and run history rely on)."""

from __future__ import annotations

import dagster as dg
import pytest

from gex_pipeline.definitions import defs
from gex_pipeline.lib.db.writer import DUCKDB_WRITER_POOL
from gex_pipeline.lib.history.settings import HistorySettings


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs().get_repository_def()


def test_history_asset_job_and_sensor_names_are_stable(repository):
    graph = repository.asset_graph
    keys = sorted(
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name == "gex_history"
    )
    assert keys == ["gex_history_import"]
    assert "gex_history_job" in {job.name for job in repository.get_all_jobs()}
    assert repository.get_sensor_def("gex_history_sensor").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )


def test_history_import_is_in_the_duckdb_writer_pool(repository):
    assert repository.asset_graph.get(dg.AssetKey("gex_history_import")).pools == {
        DUCKDB_WRITER_POOL
    }


def test_history_sensor_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GEX_HISTORY_SENSOR_INTERVAL_SECONDS", "2")
    sensor = defs().get_repository_def().get_sensor_def("gex_history_sensor")
    assert sensor.minimum_interval_seconds == 2


def test_history_settings_read_limits_from_the_environment():
    settings = HistorySettings.from_env(
        {
            "GEX_HISTORY_MAX_BYTES": "1000",
            "GEX_HISTORY_TIMEOUT_SECONDS": "7",
            "GEX_HISTORY_RETRIES": "1",
            "GEX_HISTORY_SHRINK_PERCENT": "80",
            "GEX_HISTORY_DUCKDB_MEMORY_LIMIT": "512MiB",
        }
    )
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
        HistorySettings.from_env({name: value})
