"""The container deployment under deploy/docker/, checked without Docker (none runs here).

- the instance file's run launcher config passes Dagster's own schema of `DockerRunLauncher` and
  the instance loads it (PostgreSQL storage as `gex-pipeline init` writes it);
- the image recipe builds the same package `pip install .` builds: a wheel built from what the
  Dockerfile copies equals the wheel built from the checkout;
- every compose service runs a command that exists (`--help` from this virtualenv), against the
  shipped workspace file, whose code server is the compose service and port.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster_docker import DockerRunLauncher

from gex_pipeline.cli.dagster_home import POSTGRES_STORAGE_YAML
from gex_pipeline.settings import Settings
from gex_pipeline_tests.ops.test_deploy_units import BIN, ROOT, help_command

DOCKER = ROOT / "deploy" / "docker"
INSTALLED = "/opt/gex-pipeline"


def _instance_yaml() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "dagster.yaml").read_text())


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _validate_launcher_config(config: dict[str, Any]) -> None:
    """Validate `config` with the schema DockerRunLauncher declares, by Dagster's config system."""

    @dg.op(config_schema=DockerRunLauncher.config_type())
    def run_launcher() -> None: ...

    @dg.job
    def check() -> None:
        run_launcher()

    dg.validate_run_config(check, {"ops": {"run_launcher": {"config": config}}})


def test_the_container_run_launcher_config_passes_dagsters_schema(tmp_path: Path) -> None:
    instance = _instance_yaml()
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    _validate_launcher_config(launcher["config"])
    for broken in ({"env_vars": "GEX_DATA_DIR"}, {"networkz": "x"}, {"image": ["x"]}):
        with pytest.raises(dg.DagsterInvalidConfigError):
            _validate_launcher_config({**launcher["config"], **broken})
    # the storage block is the one `gex-pipeline init` writes (tested against PostgreSQL in
    # ops/test_postgres_e2e.py); the rest loads as an instance with that launcher
    assert instance.pop("storage") == yaml.safe_load(POSTGRES_STORAGE_YAML)["storage"]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance))
    with dg.DagsterInstance.from_config(str(tmp_path)) as loaded:
        assert isinstance(loaded.run_launcher, DockerRunLauncher)
        assert loaded.run_launcher.image == launcher["config"]["image"]
        assert type(loaded.run_coordinator).__name__ == "QueuedRunCoordinator"


def test_runs_in_containers_get_the_settings_they_need_and_the_data_volume() -> None:
    config = _instance_yaml()["run_launcher"]["config"]
    known = set(Settings.variables())
    assert set(config["env_vars"]) <= known
    assert {"GEX_DATA_DIR", "GEX_LAKE_URI", "GEX_DAGSTER_POSTGRES_URL"} <= set(config["env_vars"])
    compose = _compose()
    assert config["network"] in compose["networks"]
    volume, _, mount = config["container_kwargs"]["volumes"][0].partition(":")
    assert volume in compose["volumes"]
    for name in ("live-loader", "ingest", "daemon"):
        assert f"{volume}:{mount}" in compose["services"][name]["volumes"]
        assert compose["services"][name]["environment"]["GEX_DATA_DIR"] == mount


def _dockerfile() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), split like a shell."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        shlex.split(line) for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def _package_files(tree: Path) -> dict[str, bytes]:
    """What `pip install .` packages from `tree`: the packages setuptools finds there with the
    project's `[tool.setuptools.packages.find]`, every file in them, and the metadata sources."""
    import tomllib

    from setuptools import find_packages

    find = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = find_packages(str(tree), **find["packages"]["find"])
    files = {name: (tree / name).read_bytes() for name in ("pyproject.toml", "README.md")}
    for package in packages:
        folder = tree / package.replace(".", "/")
        for path in folder.iterdir():
            if path.is_file() and path.suffix != ".pyc":
                files[path.relative_to(tree).as_posix()] = path.read_bytes()
    return files


def test_the_image_recipe_builds_the_package_pip_install_builds(tmp_path: Path) -> None:
    steps = _dockerfile()
    copies = [s[1:] for s in steps if s[0] == "COPY"]
    installs = [s for s in steps if s[0] == "RUN" and "pip" in s and "install" in s]
    assert len(installs) == 1 and installs[0][-1] == ".[docker]"
    image = tmp_path / "image"  # the image's /opt/gex-pipeline when `pip install` runs
    checkout = tmp_path / "checkout"  # what a clone holds (`git ls-files`)
    for *sources, target in copies:
        if "deploy/docker/" in target:
            continue  # copied after the install
        for source in sources:
            dest = image / target / Path(source).name if target.endswith("/") else image / target
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, dest, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, dest)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, checkout / name)
    built, expected = _package_files(image), _package_files(checkout)
    assert sorted(built) == sorted(expected)
    assert built == expected
    assert any(name.startswith("ingest_api/") for name in built)
    extras = (ROOT / "pyproject.toml").read_text()
    assert 'docker = ["dagster-docker' in extras
    (cmd,) = [s for s in steps if s[0] == "CMD"]
    assert " ".join(cmd[1:]).strip('[]"').startswith("dagster")


def _service_command(command: list[str]) -> list[str]:
    """A compose command as this virtualenv runs it."""
    program = {"python": sys.executable}.get(command[0], str(BIN / command[0]))
    return [program, *command[1:]]


@pytest.mark.parametrize("service", ["code-server", "webserver", "daemon", "ingest", "live-loader"])
def test_every_compose_service_command_exists_and_answers_help(service: str) -> None:
    spec = _compose()["services"][service]
    assert spec["image"] == "gex-pipeline:latest"
    command = help_command(_service_command(spec["command"]))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, (command, done.stderr[-2000:])
    assert "usage" in (done.stdout + done.stderr).lower()
    for word in spec["command"]:
        if word.startswith(f"{INSTALLED}/"):
            shipped = ROOT / word.removeprefix(f"{INSTALLED}/")
            server = yaml.safe_load(shipped.read_text())["load_from"][0]["grpc_server"]
            code = _compose()["services"]["code-server"]["command"]
            assert server["host"] == "code-server"
            assert str(server["port"]) == code[code.index("-p") + 1]


def test_the_deployment_guide_describes_the_container_deployment() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for name in (
        "deploy/docker/Dockerfile",
        "deploy/docker/compose.yaml",
        "deploy/docker/dagster.yaml",
    ):
        assert name in guide
