"""The webserver and daemon wrapper of `gex-pipeline up`: dagster's idle polling, slowed."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from dagster._daemon import controller
from dagster._grpc import server_watcher

from gex_pipeline.cli import dagster_processes


def test_dagster_still_reads_the_intervals_from_the_module_constants() -> None:
    """The wrapper sets module constants: fail loudly when dagster stops reading them."""
    reload = inspect.getsource(controller.DagsterDaemonController.check_workspace_freshness)
    assert "RELOAD_WORKSPACE_INTERVAL" in reload
    watch = inspect.getsource(server_watcher.watch_grpc_server_thread)
    assert '"watch_interval", WATCH_INTERVAL)' in watch
    assert isinstance(controller.RELOAD_WORKSPACE_INTERVAL, int)
    assert isinstance(server_watcher.WATCH_INTERVAL, int | float)


def test_the_wrapper_slows_the_reload_and_the_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller, "RELOAD_WORKSPACE_INTERVAL", 60)
    monkeypatch.setattr(server_watcher, "WATCH_INTERVAL", 1)
    dagster_processes.apply_intervals()
    assert controller.RELOAD_WORKSPACE_INTERVAL == 300
    assert server_watcher.WATCH_INTERVAL == 5


@pytest.mark.parametrize(
    ("program", "option"), [(["daemon", "run"], "--workspace"), (["webserver"], "--port")]
)
def test_the_wrapper_is_the_stock_command_line(program: list[str], option: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gex_pipeline.cli.dagster_processes", *program, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert option in result.stdout


def test_an_unknown_program_is_refused() -> None:
    with pytest.raises(SystemExit, match="daemon,webserver"):
        dagster_processes.main(["dagit"])


def test_a_moved_constant_leaves_the_stock_interval_and_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Best effort: a Dagster release without the constant runs stock, it does not crash."""
    monkeypatch.delattr(server_watcher, "WATCH_INTERVAL")
    monkeypatch.setattr(controller, "RELOAD_WORKSPACE_INTERVAL", 60)
    missing = dagster_processes.apply_intervals()
    assert missing == ["dagster._grpc.server_watcher.WATCH_INTERVAL"]
    assert controller.RELOAD_WORKSPACE_INTERVAL == 300
