"""A fresh install started with history requests and live data already queued: every DuckDB
writer (import runs, the live loader) waits its turn; no request or run fails on the file lock."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import httpx
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline_tests.support.lake import lake_rows
from gex_pipeline_tests.support.servers import HistoryHttpServer, IngestServer, free_port

pytestmark = pytest.mark.e2e

DAYS = ("2025-11-12", "2025-11-13", "2025-11-14")
LIVE_SNAPSHOTS = 20
WAIT_SECONDS = 240


def _queue_history(api: httpx.Client, server: HistoryHttpServer, tmp_path: Path) -> list[str]:
    ids = []
    for day in DAYS:
        made = make_day_file(tmp_path / "files", day, "SPX", snapshots=60, strikes=10)
        server.route(f"/hist/{made.path.name}", ("body", made.path.read_bytes()))
        answer = api.post("/gex_history_url", json={"url": server.url(f"/hist/{made.path.name}")})
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    return ids


def _queue_live(api: httpx.Client) -> None:
    for second in range(LIVE_SNAPSHOTS):
        body = {
            "ticker": "NDX",
            "timestamp": 1_763_130_600 + second,
            "spot": 25060.0 + second,
            "strikes": [[25000, 1.5, 0.5], [25100, -2.5, 0.1]],
        }
        assert api.post("/gex", json=body).status_code == 202


def _wait_for_runs_to_finish(home: Path, deadline: float) -> None:
    """A request is `done` before its run has finished reporting: wait for the runs."""
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            if all(run.is_finished for run in instance.get_runs()):
                return
        time.sleep(0.5)


def test_fresh_start_with_queued_work_has_no_lock_failure(
    data_dir: Path,
    tmp_path: Path,
    history_http: HistoryHttpServer,
    ingest_server: Callable[..., IngestServer],
) -> None:
    allow = {
        "GEX_HISTORY_ALLOWED_HOSTS": f"127.0.0.1:{history_http.port}",
        "GEX_HISTORY_ALLOW_HTTP": "1",
        "GEX_HISTORY_ALLOW_PRIVATE": "1",
    }
    queued = ingest_server(GEX_INGEST_SEAL_AGE_MS="200", **allow)
    with httpx.Client(base_url=queued.base_url, timeout=10) as api:
        ids = _queue_history(api, history_http, tmp_path)
        _queue_live(api)
    assert queued.stop()
    assert not (data_dir / "dagster_home" / "dagster.yaml").exists()  # a fresh install

    api_port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        **allow,
        "GEX_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "GEX_INGEST_PORT": str(api_port),
        "GEX_DAGSTER_PORT": str(ui_port),
        "GEX_HISTORY_SENSOR_INTERVAL_SECONDS": "2",
        "GEX_LIVE_POLL_MS": "100",
    }
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        stack = subprocess.Popen(
            [sys.executable, "-m", "gex_pipeline.cli", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    seen: dict[str, list[str]] = {request: [] for request in ids}
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5) as api:
            while time.monotonic() < deadline and stack.poll() is None:
                with contextlib.suppress(httpx.HTTPError):
                    for request in ids:
                        state = api.get(f"/gex_history_url/{request}").json()["state"]
                        if not seen[request] or seen[request][-1] != state:
                            seen[request].append(state)
                if all(states and states[-1] in ("done", "failed") for states in seen.values()):
                    break
                time.sleep(0.5)
        _wait_for_runs_to_finish(data_dir / "dagster_home", deadline)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stack.pid, signal.SIGINT)
        stack.wait(timeout=120)
    log = log_path.read_text(errors="replace")
    assert all(states[-1] == "done" for states in seen.values()), (seen, log[-4000:])
    assert not any("failed" in states or "retrying" in states for states in seen.values()), seen
    assert "Could not set lock" not in log
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        statuses = {run.status for run in instance.get_runs()}
    assert statuses == {dg.DagsterRunStatus.SUCCESS}, statuses
    live = lake_rows(data_dir, "SELECT count(*) FROM gex_snapshots WHERE ticker = 'NDX'")
    days = lake_rows(
        data_dir, "SELECT count(DISTINCT trade_date) FROM gex_snapshots WHERE ticker = 'SPX'"
    )
    assert (live[0][0], days[0][0]) == (LIVE_SNAPSHOTS, len(DAYS))
