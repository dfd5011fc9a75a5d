"""The systemd units shipped under deploy/ start programs that exist: every `ExecStart` command
answers `--help` from this checkout's virtualenv, and the workspace file they name is shipped."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/opt/gex-pipeline"
BIN = Path(sys.executable).parent


def exec_start(unit: Path) -> list[str]:
    """The `ExecStart` command of a unit, split like systemd does."""
    (line,) = [x for x in unit.read_text().splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def help_command(command: list[str]) -> list[str]:
    """The program and its subcommands (options dropped), with `--help`, run from this venv."""
    program = command[0].replace(f"{INSTALLED}/.venv/bin", str(BIN))
    kept, rest = [program], command[1:]
    while (rest and not rest[0].startswith("-")) or rest[:1] == ["-m"]:
        kept.append(rest.pop(0))
        if kept[-1] == "-m":
            kept.append(rest.pop(0))
    return [*kept, "--help"]


def test_units_are_shipped() -> None:
    names = {u.name for u in UNITS}
    assert {"gex-pipeline.service", "gex-daemon.service", "gex-webserver.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_command_exists_and_answers_help(unit: Path) -> None:
    command = help_command(exec_start(unit))
    assert Path(command[0]).is_file(), command[0]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, (command, done.stderr[-2000:])
    assert "usage" in (done.stdout + done.stderr).lower()


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_files_a_unit_names_are_shipped(unit: Path) -> None:
    for word in exec_start(unit):
        if word.startswith(f"{INSTALLED}/") and not word.startswith(f"{INSTALLED}/.venv/"):
            shipped = ROOT / word.removeprefix(f"{INSTALLED}/")
            assert shipped.is_file(), word
            assert (
                yaml.safe_load(shipped.read_text())["load_from"][0]["grpc_server"]["port"] == 4266
            )


def test_the_deployment_guide_points_at_the_shipped_units() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for unit in UNITS:
        assert f"deploy/systemd/{unit.name}" in guide, unit.name
    assert "gex_pipeline.cli.dagster_daemon" not in guide
