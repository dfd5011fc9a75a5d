"""The daemon wrapper of `gex-pipeline up`: dagster's workspace reload interval, slowed."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from dagster._daemon import controller

from gex_pipeline.cli import dagster_daemon


def test_dagster_still_reads_the_reload_interval_from_the_module_constant() -> None:
    """The wrapper patches a module constant: fail loudly when dagster stops reading it."""
    source = inspect.getsource(controller.DagsterDaemonController.check_workspace_freshness)
    assert "RELOAD_WORKSPACE_INTERVAL" in source
    assert isinstance(controller.RELOAD_WORKSPACE_INTERVAL, int)


def test_the_wrapper_slows_the_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller, "RELOAD_WORKSPACE_INTERVAL", 60)
    dagster_daemon.apply_reload_interval()
    assert controller.RELOAD_WORKSPACE_INTERVAL == dagster_daemon.WORKSPACE_RELOAD_SECONDS == 300


def test_the_wrapper_is_the_dagster_daemon_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gex_pipeline.cli.dagster_daemon", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "--workspace" in result.stdout or "-w" in result.stdout
