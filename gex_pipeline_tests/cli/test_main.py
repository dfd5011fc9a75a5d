"""The `gex-pipeline` entry point: one table of subcommands, settings read once and checked."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gex_pipeline.cli.main import COMMANDS, build_parser, main


def _subcommands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_every_subcommand_has_exactly_one_entry_in_the_command_table() -> None:
    assert _subcommands() == set(COMMANDS)


def test_main_dispatches_through_the_table(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    assert (data_dir / "dagster_home" / "dagster.yaml").is_file()
    assert f"data directory: {data_dir}" in capsys.readouterr().out


def test_a_malformed_setting_exits_2_naming_the_variable_and_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEX_SUPERVISOR_BACKOFF_MS", "soon")
    assert main(["init"]) == 2
    assert "GEX_SUPERVISOR_BACKOFF_MS: input should be a valid integer" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
