"""Shared fixtures. Add new fixtures below; do not change existing ones (several suites rely on them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gex_pipeline.lib.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory, exported as GEX_DATA_DIR (DAGSTER_HOME inside it)."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("GEX_DATA_DIR", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(path / "dagster_home"))
    (path / "dagster_home").mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings for the temp data directory."""
    return Settings.from_env()
