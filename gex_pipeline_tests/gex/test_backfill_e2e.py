"""End to end: a UI-style backfill of several trading days of one feed, launched through the GraphQL
API of a real `dagster dev`, runs as one run, completes without failures and materializes every
table and Parquet partition and a check result for each; weekends and a holiday are not
partitions."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest

from gex_pipeline.cli.dagster_home import prepare_dagster_home
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.gex.checks import integrity_check_specs
from gex_pipeline_tests.support.servers import free_port

pytestmark = pytest.mark.e2e

FEED = "SPX.gex_zero"
# Mon 24 .. Fri 28 Nov 2025: Thursday 27 is Thanksgiving, Friday 28 an early close (13:00).
SESSIONS = ["2025-11-24", "2025-11-25", "2025-11-26", "2025-11-28"]
NOT_SESSIONS = ["2025-11-22", "2025-11-23", "2025-11-27"]
ASSETS = ["gex_snapshots", "gex_strikes", "gex_parquet"]
WAIT_SECONDS = 240

WORKSPACE_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
DATE_KEYS_QUERY = """
{ assetNodeOrError(assetKey: {path: ["gex_strikes"]}) { ... on AssetNode {
    partitionKeysByDimension { name partitionKeys } } } }
"""
LAUNCH = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message } ... on InvalidStepError { invalidStepKey } } }
"""
STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status } ... on PythonError { message } } }
"""


class Graphql:
    """A tiny GraphQL client of the webserver."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, query: str, **variables: object) -> dict:
        answer = httpx.post(self.url, json={"query": query, "variables": variables}, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
def home(data_dir: Path) -> Path:
    """A Dagster home with the feed registered and four kept raw day files."""
    home = prepare_dagster_home(data_dir / "dagster_home")
    raw = data_dir / "source" / "gexbot" / "SPX" / "gex_zero"
    for day in SESSIONS:
        make_day_file(raw, day, "SPX", snapshots=30, strikes=5, seed=len(day))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("feed", [FEED])
    return home


@pytest.fixture
def graphql(data_dir: Path, home: Path, tmp_path: Path) -> Iterator[Graphql]:
    port = free_port()
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(home / "workspace.yaml")]
    env = {**os.environ, "GEX_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home)}
    with open(tmp_path / "dagster.log", "wb") as log:
        proc = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = Graphql(port)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, AssertionError, KeyError, TypeError):
                entries = client(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["loadStatus"] == "LOADED":
                    break
            time.sleep(1.0)
        yield client
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_backfill_of_trading_days_of_one_feed_is_one_successful_run(
    graphql: Graphql, home: Path, tmp_path: Path
) -> None:
    dims = graphql(DATE_KEYS_QUERY)["assetNodeOrError"]["partitionKeysByDimension"]
    dates = next(d["partitionKeys"] for d in dims if d["name"] == "date")
    assert set(SESSIONS) <= set(dates)
    assert not set(NOT_SESSIONS) & set(dates)

    params = {
        "partitionNames": [f"{day}|{FEED}" for day in SESSIONS],
        "assetSelection": [{"path": [name]} for name in ASSETS],
    }
    launched = graphql(LAUNCH, params=params)["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    status, deadline = None, time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status = graphql(STATUS, id=backfill_id)["partitionBackfillOrError"]["status"]
        if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        time.sleep(2.0)
    log = (tmp_path / "dagster.log").read_text(errors="replace")
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), log[-4000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS]
        for name in ASSETS:
            materialized = instance.get_materialized_partitions(dg.AssetKey(name))
            assert materialized == {f"{day}|{FEED}" for day in SESSIONS}, name
        evaluations = [
            record.event_log_entry.dagster_event.event_specific_data
            for record in instance.get_records_for_run(
                runs[0].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        ]
    # every check of every partition exactly once, in the backfill run itself: the table checks
    # (before the export) and the Parquet check (after it) are separate ops
    checked = sorted((e.partition, e.check_name) for e in evaluations)
    expected = sorted(
        (f"{day}|{FEED}", spec.name) for day in SESSIONS for spec in integrity_check_specs
    )
    assert checked == expected
    early_close = {
        e.check_name: e.passed for e in evaluations if e.partition.startswith("2025-11-28")
    }
    assert early_close["out_of_session_rows"], "no false alarm on an early close"
