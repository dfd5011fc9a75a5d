"""Fixtures of the live loader tests: a persistent test instance and a loader with a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.cli.live_loader import DagsterPublisher, build_loader
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.live.loader import LiveLoader
from gex_pipeline.settings import PipelineSettings, Settings
from gex_pipeline_tests.support.loader_doubles import SettableClock
from gex_pipeline_tests.support.staging_trees import UwStagingTree


@pytest.fixture
def uw_staging(data_dir: Path) -> UwStagingTree:
    return UwStagingTree(data_dir / "staging")


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def loader(
    settings: Settings, instance: dg.DagsterInstance, clock: SettableClock
) -> Iterator[LiveLoader]:
    live = build_loader(settings.paths, PipelineSettings(), DagsterPublisher(instance))
    live.clock = clock
    yield live
    live.close()


@pytest.fixture
def count(data_dir: Path, loader: LiveLoader) -> Callable[[str], int]:
    """Row count of a table, read after the loader let go of the database."""

    def rows(table: str) -> int:
        loader.close()
        with connect(data_dir / "gex_data.db", read_only=True) as con:
            return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    return rows
