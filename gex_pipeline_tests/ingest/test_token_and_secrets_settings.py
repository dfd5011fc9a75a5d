"""The ingest token is stripped and must be long; the secrets directory defaults per user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gex_pipeline.settings import MIN_TOKEN_LENGTH, Settings
from gex_pipeline_tests.support.servers import free_port


@pytest.mark.parametrize("token", ["   ", "\t\n", "short-token"])
def test_blank_or_short_token_is_refused_naming_the_variable(token: str) -> None:
    with pytest.raises(ValueError, match="GEX_INGEST_TOKEN: must hold at least 16"):
        Settings.from_env({"GEX_INGEST_TOKEN": token})


def test_token_is_stripped() -> None:
    token = "x" * MIN_TOKEN_LENGTH
    assert Settings.from_env({"GEX_INGEST_TOKEN": f" {token}\n"}).api.token == token


def test_secrets_dir_defaults_to_the_user_config_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert settings.paths.secrets_dir == tmp_path / "cfg" / "gex-pipeline"
    home = Settings.from_env({}).paths.secrets_dir
    assert home == Path("~/.config/gex-pipeline").expanduser().resolve()


def test_secrets_dir_is_outside_the_data_dir_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"GEX_DATA_DIR": str(tmp_path / "data")})
    assert not settings.paths.secrets_dir.is_relative_to(settings.paths.data_dir)


@pytest.mark.parametrize("token", ["   ", "short"])
def test_serve_refuses_to_start_with_a_blank_or_short_token(data_dir: Path, token: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEX_INGEST_")}
    env.update(GEX_INGEST_TOKEN=token, GEX_INGEST_PORT=str(free_port()))
    done = subprocess.run(
        [sys.executable, "-m", "gex_pipeline.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "GEX_INGEST_TOKEN: must hold at least 16" in done.stderr
