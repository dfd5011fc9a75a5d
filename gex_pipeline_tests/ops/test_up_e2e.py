"""`gex-pipeline up` (default and --dev): a kill -9 of the API child is healed while Dagster and
the live loader keep running, and the pipeline keeps loading."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gex_pipeline_tests.support.lake import lake_rows
from gex_pipeline_tests.support.servers import free_port

LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename } } } } }"""
DAEMON_QUERY = """{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }"""


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (httpx.HTTPError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    return False


def _pids(log: Path, name: str) -> list[int]:
    return [int(p) for p in re.findall(rf"started {name} \(pid (\d+)\)", log.read_text())]


DAGSTER_SERVICES = {
    "--dev": ("dagster", "live-loader"),
    "": ("dagster-code-server", "dagster-webserver", "dagster-daemon", "live-loader"),
}
SNAPSHOT = {"ticker": "SPX", "endpoint": "gex_zero", "timestamp": 1763130600, "spot": 6734.25,
            "strikes": [[6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]]]}  # fmt: skip


def _snapshots(db: Path) -> int:
    """Snapshots readers see in the lake of the data directory of `db`."""
    return int(lake_rows(db.parent, "SELECT count(*) FROM gex_snapshots")[0][0])


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["", "--dev"], ids=["default", "dev"])
def test_killed_api_comes_back_while_dagster_keeps_running(tmp_path: Path, mode: str) -> None:
    api_port, ui_port, grpc_port = free_port(), free_port(), free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "GEX_DATA_DIR": str(data),
        "GEX_INGEST_PORT": str(api_port),
        "GEX_DAGSTER_PORT": str(ui_port),
        "GEX_DAGSTER_GRPC_PORT": str(grpc_port),
        "GEX_SUPERVISOR_BACKOFF_MS": "200",
    }
    env.pop("DAGSTER_HOME", None)
    out = tmp_path / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gex_pipeline.cli", "up", *([mode] if mode else [])],
        env=env,
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log = data / "logs" / "supervisor.log"
    health = f"http://127.0.0.1:{api_port}/health"
    graphql = f"http://127.0.0.1:{ui_port}/graphql"

    def query(q: str) -> dict:
        return httpx.post(graphql, json={"query": q}, timeout=10).json()["data"]

    def location_loaded() -> bool:
        (entry,) = query(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        return entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    def daemons_healthy() -> bool:
        statuses = query(DAEMON_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return any(s["daemonType"] == "SENSOR" and s["healthy"] for s in statuses)

    try:
        assert _wait(lambda: httpx.get(health).status_code == 200, 60), out.read_text()[-3000:]
        assert _wait(location_loaded, 180), out.read_text()[-3000:]
        assert _wait(daemons_healthy, 120), out.read_text()[-3000:]
        dagster = {n: _pids(log, n) for n in DAGSTER_SERVICES[mode]}
        (api,) = _pids(log, "ingest-api")
        os.kill(api, signal.SIGKILL)
        assert _wait(lambda: len(_pids(log, "ingest-api")) == 2, 30), log.read_text()
        assert _wait(lambda: httpx.get(health).status_code == 200, 60), out.read_text()[-3000:]
        assert "ingest-api" in log.read_text().split("exited with code -9")[0].splitlines()[-1]
        for name, pids in dagster.items():
            assert _pids(log, name) == pids, name  # never restarted
            os.kill(pids[0], 0)
        assert location_loaded()
        # the pipeline keeps loading: a snapshot posted to the new API process reaches DuckDB
        assert httpx.post(f"http://127.0.0.1:{api_port}/gex", json=SNAPSHOT).status_code == 202
        assert _wait(lambda: _snapshots(data / "gex_data.db") == 1, 60), log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out.read_text()[-3000:]
    printed = out.read_text()
    assert "BetaWarning" not in printed and "PreviewWarning" not in printed, printed[-3000:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(health)
