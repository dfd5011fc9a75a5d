import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gex_pipeline.cli.main import build_parser

WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_the_subcommands_users_rely_on() -> None:
    help_text = build_parser().format_help()
    for command in ("up", "serve", "init"):
        assert command in help_text


def test_init_creates_data_dir_and_dagster_home(tmp_path: Path) -> None:
    env = {**os.environ, "GEX_DATA_DIR": str(tmp_path / "data")}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run(
        [sys.executable, "-m", "gex_pipeline.cli", "init"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    home = tmp_path / "data" / "dagster_home"
    assert (home / "dagster.yaml").is_file()
    assert (home / "workspace.yaml").is_file()
    assert str(home) in result.stdout


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    return False


@pytest.mark.e2e
def test_up_serves_health_and_a_loaded_code_location_then_stops_both_cleanly(
    tmp_path: Path,
) -> None:
    api_port, ui_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "GEX_DATA_DIR": str(tmp_path / "data"),
        "GEX_INGEST_PORT": str(api_port),
        "GEX_DAGSTER_PORT": str(ui_port),
    }
    env.pop("DAGSTER_HOME", None)
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gex_pipeline.cli", "up"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # As for a background job started by a script: SIGINT ignored. `up` must still stop
        # both services cleanly (its children must not inherit the ignored SIGINT).
        preexec_fn=_ignore_sigint,
    )
    try:
        health_url = f"http://127.0.0.1:{api_port}/health"
        assert _wait_for(lambda: httpx.get(health_url).status_code == 200, 60)
        assert httpx.get(health_url).json()["service"] == "gex-pipeline"

        def location_loaded() -> bool:
            answer = httpx.post(
                f"http://127.0.0.1:{ui_port}/graphql", json={"query": WORKSPACE_QUERY}, timeout=10
            ).json()
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            return bool(entries) and entries[0]["loadStatus"] == "LOADED"

        assert _wait_for(location_loaded, 120), (tmp_path / "up.log").read_text()[-3000:]
        answer = httpx.post(
            f"http://127.0.0.1:{ui_port}/graphql", json={"query": WORKSPACE_QUERY}, timeout=10
        ).json()
        (entry,) = answer["data"]["workspaceOrError"]["locationEntries"]
        assert entry["name"] == "gex_pipeline"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{api_port}/health")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{ui_port}/server_info")
