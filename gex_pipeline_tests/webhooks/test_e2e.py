"""From the outside in: messages posted to the real ingest API (uvicorn) reach DuckDB through the
live loader, exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest

from gex_pipeline.cli.live_loader import DagsterPublisher, build_loader
from gex_pipeline.settings import PipelineSettings, Settings
from gex_pipeline_tests.support.lake import lake_rows
from gex_pipeline_tests.support.servers import IngestServer
from gex_pipeline_tests.support.staging_trees import UwStagingTree

pytestmark = pytest.mark.e2e

BATCH = 50


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


def _post_all(server: IngestServer, messages: list[object]) -> set[str]:
    """POST `messages` in batches (and the first batch once more); the ids the API acknowledged."""
    acknowledged: set[str] = set()
    batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        for batch in [*batches, batches[0]]:
            response = client.post("/uw", json=batch)
            assert response.status_code == 202, response.text
            acknowledged |= set(response.json()["ids"])
    return acknowledged


def _load_through_the_loader(instance: dg.DagsterInstance) -> None:
    loader = build_loader(Settings.from_env().paths, PipelineSettings(), DagsterPublisher(instance))
    assert loader.run_once() > 0
    assert loader.run_once() == 0


def test_posted_messages_reach_duckdb_once_through_the_loader(
    data_dir: Path, instance, ingest_server: Callable[..., IngestServer]
) -> None:
    server = ingest_server(GEX_INGEST_SEAL_AGE_MS="300")
    messages = UwStagingTree.messages(400, seed=3)
    acknowledged = _post_all(server, messages)
    assert server.stop()
    _load_through_the_loader(instance)
    stored = {row[0] for row in lake_rows(data_dir, "SELECT id FROM universal_webhooks")}
    trades = lake_rows(data_dir, "SELECT count(*) FROM option_trades_events")[0][0]
    failures = lake_rows(
        data_dir, "SELECT count(*) FROM option_trades_events WHERE len(cast_failures) > 0"
    )[0][0]
    expected_trades = sum(
        1 for r in UwStagingTree.records(messages) if "option_trades" in r["channel"]
    )
    assert stored == acknowledged
    assert (trades, failures) == (expected_trades, 0)
    assert list((data_dir / "staging" / "uw" / "sealed").iterdir()) == []
