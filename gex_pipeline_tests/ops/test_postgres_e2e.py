"""End to end on PostgreSQL instance storage: `gex-pipeline up` with
GEX_DAGSTER_POSTGRES_URL against a real PostgreSQL server; posted data reach DuckDB through the
live loader and Parquet through the export sensor's daemon-launched runs, whose runs and events
live in PostgreSQL; run retention then works on that storage with every partition keeping its
status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest
from dagster._core.instance.ref import InstanceRef

from gex_pipeline.defs.ops.run_retention import purge_runs
from gex_pipeline_tests.support.postgres import PostgresServer
from gex_pipeline_tests.support.servers import free_port

pytestmark = pytest.mark.e2e

BASE_SECONDS = 1_763_130_600  # 2025-11-14 09:30 America/New_York
FEEDS = [("SPX", "gex_zero"), ("NQ_NDX", "gex_one")]
STRIKES = [[6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]], [6735, 132.54, 9.27]]
WAIT_SECONDS = 240
BUSY = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def _parquet_rows(data: Path, ticker: str, endpoint: str) -> int:
    path = data / "parquet" / "gexbot" / ticker / endpoint / "20251114.strikes.parquet"
    return pl.read_parquet(path).height if path.exists() else 0


def _wait_until_idle(home: Path, deadline: float) -> None:
    """Until no run is queued or in progress for 10 s (checks follow exports): stopping the
    stack interrupts runs in flight."""
    quiet_since = None
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        while time.monotonic() < deadline:
            busy = instance.get_run_records(dg.RunsFilter(statuses=list(BUSY)))
            quiet_since = None if busy else quiet_since or time.monotonic()
            if quiet_since and time.monotonic() - quiet_since > 10:
                return
            time.sleep(1.0)
    raise AssertionError("runs still in progress at the deadline")


def _failures(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> str:
    lines = []
    for run in runs:
        for entry in instance.all_logs(run.run_id):
            if entry.dagster_event and entry.dagster_event.is_failure:
                lines.append(f"{run.job_name}: {entry.dagster_event.message}")
    return "\n".join(lines)


def test_pipeline_runs_end_to_end_on_postgres_storage(
    tmp_path: Path, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEX_DAGSTER_POSTGRES_URL", postgres.url)  # for the instance read here
    data = tmp_path / "data"
    api_port = free_port()
    env = {
        **os.environ,
        "GEX_DATA_DIR": str(data),
        "GEX_INGEST_PORT": str(api_port),
        "GEX_DAGSTER_PORT": str(free_port()),
        "GEX_DAGSTER_GRPC_PORT": str(free_port()),
        "GEX_DAGSTER_POSTGRES_URL": postgres.url,
        "GEX_INGEST_SEAL_AGE_MS": "300",
        "GEX_EXPORT_SENSOR_INTERVAL_SECONDS": "2",
        "GEX_EXPORT_QUIET_SECONDS": "1",
    }
    env.pop("DAGSTER_HOME", None)
    out = tmp_path / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gex_pipeline.cli", "up"],
        env=env,
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    expected = 3 * len(STRIKES)
    try:
        base = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        for second in range(3):
            for ticker, endpoint in FEEDS:
                body = {"ticker": ticker, "endpoint": endpoint, "timestamp": BASE_SECONDS + second,
                        "spot": 6734.25, "strikes": STRIKES}  # fmt: skip
                assert httpx.post(f"{base}/gex", json=body).status_code == 202
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and proc.poll() is None:
            if all(_parquet_rows(data, t, e) == expected for t, e in FEEDS):
                break
            time.sleep(1.0)
        assert [_parquet_rows(data, t, e) for t, e in FEEDS] == [expected] * 2, out.read_text()[
            -4000:
        ]
        _wait_until_idle(data / "dagster_home", deadline)
    finally:
        stopped_at = time.time()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)

    home = data / "dagster_home"
    assert "postgres" in (home / "dagster.yaml").read_text()
    assert not list(home.rglob("*.db")), "instance storage must not fall back to SQLite"
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_run_records()
        # Runs still in flight when the stack stopped are interrupted: only those before count.
        before_stop = [r for r in runs if r.end_time and r.end_time < stopped_at]
        failed = [
            r.dagster_run
            for r in before_stop
            if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS
        ]
        assert before_stop and not failed, _failures(instance, failed)
        assert "gex_parquet_job" in {r.dagster_run.job_name for r in before_stop}
        parquet = dg.AssetKey("gex_parquet")
        partitions = instance.get_materialized_partitions(parquet)
        assert partitions == {"2025-11-14|SPX.gex_zero", "2025-11-14|NQ_NDX.gex_one"}
        report = purge_runs(instance, before=datetime.now(UTC) + timedelta(minutes=1))
        assert len(report.deleted_runs) == len(runs)
        assert instance.get_run_records() == []
        assert instance.get_materialized_partitions(parquet) == partitions
