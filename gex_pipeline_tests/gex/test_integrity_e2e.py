"""End to end: under `dagster dev`, a backfill of `gex_integrity_job` over a range of partitions
launched through the GraphQL API (what the UI's Partitions tab does) runs the checks of each
partition: the behaviour of dagster 1.13's partitioned checks (preview) this project relies on.
(Imports and backfills of the tables run their checks in their own run: gex/test_backfill_e2e.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest

from gex_pipeline.cli.dagster_home import prepare_dagster_home
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.gex.checks import integrity_check_specs
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline_tests.support.servers import free_port

pytestmark = pytest.mark.e2e

DAY = date(2025, 11, 14)
PARTITION = "2025-11-14|SPX.gex_zero"
RANGE = ["2025-11-13|SPX.gex_zero", "2025-11-14|SPX.gex_zero"]
BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
WAIT_SECONDS = 150
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)


def _exported_defect_day(data_dir: Path, day: date = DAY) -> None:
    """A day with a gap imported into DuckDB and exported to Parquet."""
    made = make_day_file(
        data_dir / "source", day, "SPX", "gex_zero", snapshots=1200, strikes=20, defects="gap"
    )
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        import_day_file(
            con,
            made.path,
            ticker="SPX",
            endpoint="gex_zero",
            trade_date=day,
            backups_dir=data_dir / "backups",
        )
        export_partition(con, data_dir / "parquet" / "gexbot", "SPX", "gex_zero", day)


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    home = prepare_dagster_home(data_dir / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture
def ui_port() -> int:
    return free_port()


@pytest.fixture
def dagster_dev(data_dir: Path, tmp_path: Path, ui_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster dev` in its own process group; SIGINT to stop."""
    home = data_dir / "dagster_home"
    env = dict(os.environ, GEX_DATA_DIR=str(data_dir), DAGSTER_HOME=str(home))
    workspace = str(home / "workspace.yaml")
    command = [sys.executable, "-m", "dagster", "dev", "-w", workspace, "-h", "127.0.0.1"]
    with open(tmp_path / "dagster.log", "wb") as log:
        proc = subprocess.Popen(
            [*command, "-p", str(ui_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _finished_check_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    runs = instance.get_runs(dg.RunsFilter(job_name="gex_integrity_job", statuses=list(FINISHED)))
    return runs[0] if runs else None


def _launch_backfill(port: int, deadline: float) -> dict:
    params = {
        "selector": {
            "partitionSetName": "gex_integrity_job_partition_set",
            "repositorySelector": {
                "repositoryName": "__repository__",
                "repositoryLocationName": "gex_pipeline",
            },
        },
        "partitionNames": RANGE,
    }
    answer: dict = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": BACKFILL, "variables": {"params": params}},
                timeout=30,
            )
            answer = response.json().get("data") or response.json()
            if (
                answer.get("launchPartitionBackfill", {}).get("__typename")
                == "LaunchBackfillSuccess"
            ):
                return answer
        time.sleep(2.0)
    return answer


def test_backfill_of_the_checks_job_over_a_range_checks_each_partition(
    data_dir: Path,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    ui_port: int,
    request: pytest.FixtureRequest,
) -> None:
    for key in RANGE:
        _exported_defect_day(data_dir, date.fromisoformat(key[:10]))
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    dagster_dev = request.getfixturevalue("dagster_dev")
    deadline = time.monotonic() + WAIT_SECONDS
    answer = _launch_backfill(ui_port, deadline)
    log = lambda: (tmp_path / "dagster.log").read_text(errors="replace")[-4000:]  # noqa: E731
    assert answer.get("launchPartitionBackfill", {}).get("__typename") == "LaunchBackfillSuccess", (
        answer,
        log(),
    )
    runs: list[dg.DagsterRun] = []
    while time.monotonic() < deadline and dagster_dev.poll() is None and len(runs) < 2:
        time.sleep(2.0)
        runs = instance.get_runs(
            dg.RunsFilter(job_name="gex_integrity_job", statuses=list(FINISHED))
        )
    assert sorted(r.tags["dagster/partition"] for r in runs) == RANGE, log()
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), log()
    for run in runs:
        records = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        partitions = {
            r.event_log_entry.dagster_event.event_specific_data.partition for r in records
        }
        assert partitions == {run.tags["dagster/partition"]}
        assert len(records) == len(integrity_check_specs)
