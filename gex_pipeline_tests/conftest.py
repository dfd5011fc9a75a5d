"""Fixtures shared by every domain's tests; the helpers they build live in `support/`."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gex_pipeline.quiet_warnings import python_warnings
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.object_store import ObjectStore, start_object_store
from gex_pipeline_tests.support.servers import HistoryHttpServer, IngestServer, free_port
from gex_pipeline_tests.support.staging_trees import GexStagingTree

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def pytest_configure(config: pytest.Config) -> None:
    """pytest restores the warning filters around each test and collection, dropping the ones
    `import gex_pipeline` installed: hand it the same list (gex_pipeline/quiet_warnings.py)."""
    for entry in python_warnings().split(","):
        config.addinivalue_line("filterwarnings", entry)


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


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """A moto S3 server on 127.0.0.1 with the bucket `gex-lake` (each test takes a prefix)."""
    store = start_object_store(tmp_path_factory.mktemp("object-store"))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def gex_staging(data_dir: Path) -> GexStagingTree:
    """An empty `gex` staging stream under the temp data directory, with record/segment builders."""
    return GexStagingTree(data_dir / "staging")


@pytest.fixture
def ingest_server(data_dir: Path, tmp_path: Path) -> Iterator[Callable[..., IngestServer]]:
    """Factory: `ingest_server(GEX_INGEST_X="...")` starts a real server with those env overrides."""
    servers: list[IngestServer] = []

    def start(**overrides: str) -> IngestServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEX_INGEST_")}
        env.update(
            GEX_DATA_DIR=str(data_dir),
            GEX_INGEST_HOST="127.0.0.1",
            GEX_INGEST_PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
        )
        env.update(overrides)
        server = IngestServer(env, tmp_path / f"ingest-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def ingest_client(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestClient]]:
    """Factory: an in-process ingest app (lifespan running) with env overrides, as a TestClient."""
    from fastapi.testclient import TestClient

    from ingest_api.app import create_app

    for name in [k for k in os.environ if k.startswith("GEX_INGEST_")]:
        monkeypatch.delenv(name)
    with contextlib.ExitStack() as stack:

        def make(**overrides: str) -> TestClient:
            for name, value in overrides.items():
                monkeypatch.setenv(name, value)
            client = TestClient(create_app(Settings.from_env()))
            return stack.enter_context(client)

        yield make


@pytest.fixture
def staged(data_dir: Path) -> Callable[[str], list[dict[str, object]]]:
    """Reader of every record staged for a stream (`gex`, `uw`), open and sealed segments alike."""
    import json

    def read(stream: str) -> list[dict[str, object]]:
        root = data_dir / "staging" / stream
        paths = sorted((root / "sealed").glob("*.jsonl")) + sorted((root / "open").glob("*.open"))
        return [json.loads(line) for p in paths for line in p.read_bytes().splitlines()]

    return read


@pytest.fixture
def history_http() -> Iterator[HistoryHttpServer]:
    """A scripted HTTP server on 127.0.0.1 for history download tests."""
    server = HistoryHttpServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session", autouse=True)
def _servers_stop_on_sigint() -> None:
    """Servers started by tests stop on SIGINT even when pytest runs with SIGINT ignored (a
    background job of a script, as CI may start it): an ignored signal is inherited by children,
    a caught one is reset to its default."""

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# --- secrets (issue 11) ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def secrets_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp `GEX_SECRETS_DIR` for every test: no test writes a key into the real home directory.

    Not created: the store creates it (0700) on first use, as it would in a real home.
    """
    path = tmp_path_factory.mktemp("secrets-parent") / "gex-pipeline"
    monkeypatch.setenv("GEX_SECRETS_DIR", str(path))
    return path
