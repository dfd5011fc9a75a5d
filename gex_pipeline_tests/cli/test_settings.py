from pathlib import Path

import pytest

from gex_pipeline.settings import DEFAULT_HISTORY_HOSTS, Settings


def test_defaults_put_everything_under_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.paths.data_dir == tmp_path / "data"
    assert settings.paths.dagster_home == tmp_path / "data" / "dagster_home"
    assert settings.paths.duckdb_path == tmp_path / "data" / "gex_data.db"
    assert (settings.api.host, settings.api.port, settings.dagster.port) == (
        "127.0.0.1",
        8877,
        3000,
    )
    assert settings.api.token is None
    assert settings.history.allowed_hosts == DEFAULT_HISTORY_HOSTS
    assert not settings.history.allow_http
    assert not settings.history.allow_private


def test_environment_overrides_every_setting(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GEX_DATA_DIR": str(tmp_path / "d"),
            "DAGSTER_HOME": str(tmp_path / "home"),
            "GEX_INGEST_HOST": "0.0.0.0",
            "GEX_INGEST_PORT": "9000",
            "GEX_DAGSTER_PORT": "3100",
            "GEX_INGEST_TOKEN": "  s3cret-of-sixteen-chars \n",
            "GEX_SECRETS_DIR": str(tmp_path / "keys"),
            "GEX_HISTORY_MAX_PER_MINUTE": "5",
            "GEX_HISTORY_MAX_PENDING": "6",
            "GEX_HISTORY_RETENTION_DAYS": "2",
            "GEX_HISTORY_MAX_FEEDS": "8",
            "GEX_HISTORY_ALLOWED_HOSTS": " Mirror.Example ,127.0.0.1:8080,,",
            "GEX_HISTORY_ALLOW_HTTP": "true",
            "GEX_HISTORY_ALLOW_PRIVATE": "1",
        }
    )
    assert settings.paths.data_dir == tmp_path / "d"
    assert settings.paths.dagster_home == tmp_path / "home"
    assert settings.api.host == "0.0.0.0"
    assert settings.api.port == 9000
    assert settings.dagster.port == 3100
    assert settings.api.token == "s3cret-of-sixteen-chars"
    assert settings.paths.secrets_dir == tmp_path / "keys"
    assert (
        settings.history.max_per_minute,
        settings.history.max_pending,
        settings.history.retention_days,
        settings.history.max_feeds,
    ) == (5, 6, 2, 8)
    assert settings.history.allowed_hosts == ("mirror.example", "127.0.0.1:8080")
    assert settings.history.allow_http
    assert settings.history.allow_private


def test_malformed_port_names_the_variable() -> None:
    with pytest.raises(ValueError, match="GEX_INGEST_PORT"):
        Settings.from_env({"GEX_INGEST_PORT": "eighty"})


def test_flags_are_off_unless_truthy() -> None:
    settings = Settings.from_env({"GEX_HISTORY_ALLOW_HTTP": "0", "GEX_HISTORY_ALLOW_PRIVATE": "no"})
    assert not settings.history.allow_http
    assert not settings.history.allow_private
