"""The one settings module: defaults, overrides, validation, the README table, no other reader."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gex_pipeline.settings import DEFAULT_HISTORY_HOSTS, PipelineSettings, Settings


def test_defaults_put_everything_under_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.paths.data_dir == tmp_path / "data"
    assert settings.paths.dagster_home == tmp_path / "data" / "dagster_home"
    assert settings.paths.duckdb_path == tmp_path / "data" / "gex_data.db"
    assert (settings.api.host, settings.api.port, settings.dagster.port) == (
        "127.0.0.1",
        8877,
        3000,
    )
    assert settings.api.token is None
    assert settings.history.allowed_hosts == DEFAULT_HISTORY_HOSTS
    assert not settings.history.allow_http
    assert not settings.history.allow_private


def test_environment_overrides_every_setting(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GEX_DATA_DIR": str(tmp_path / "d"),
            "DAGSTER_HOME": str(tmp_path / "home"),
            "GEX_INGEST_HOST": "0.0.0.0",
            "GEX_INGEST_PORT": "9000",
            "GEX_DAGSTER_PORT": "3100",
            "GEX_INGEST_TOKEN": "  s3cret-of-sixteen-chars \n",
            "GEX_SECRETS_DIR": str(tmp_path / "keys"),
            "GEX_HISTORY_MAX_PER_MINUTE": "5",
            "GEX_HISTORY_MAX_PENDING": "6",
            "GEX_HISTORY_RETENTION_DAYS": "2",
            "GEX_HISTORY_MAX_FEEDS": "8",
            "GEX_HISTORY_ALLOWED_HOSTS": " Mirror.Example ,127.0.0.1:8080,,",
            "GEX_HISTORY_ALLOW_HTTP": "true",
            "GEX_HISTORY_ALLOW_PRIVATE": "1",
        }
    )
    assert settings.paths.data_dir == tmp_path / "d"
    assert settings.paths.dagster_home == tmp_path / "home"
    assert settings.api.host == "0.0.0.0"
    assert settings.api.port == 9000
    assert settings.dagster.port == 3100
    assert settings.api.token == "s3cret-of-sixteen-chars"
    assert settings.paths.secrets_dir == tmp_path / "keys"
    assert (
        settings.history.max_per_minute,
        settings.history.max_pending,
        settings.history.retention_days,
        settings.history.max_feeds,
    ) == (5, 6, 2, 8)
    assert settings.history.allowed_hosts == ("mirror.example", "127.0.0.1:8080")
    assert settings.history.allow_http
    assert settings.history.allow_private


def test_malformed_port_names_the_variable() -> None:
    with pytest.raises(ValueError, match="GEX_INGEST_PORT"):
        Settings.from_env({"GEX_INGEST_PORT": "eighty"})


def test_flags_are_off_unless_truthy() -> None:
    settings = Settings.from_env({"GEX_HISTORY_ALLOW_HTTP": "0", "GEX_HISTORY_ALLOW_PRIVATE": "no"})
    assert not settings.history.allow_http
    assert not settings.history.allow_private


# --- one settings module: every variable read there, documented, and nowhere else -------------

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_MODULE = ROOT / "gex_pipeline" / "settings.py"
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def read_variables() -> set[str]:
    """Every variable the settings models declare."""
    return set(Settings.variables())


def readme_table_variables(text: str) -> set[str]:
    """The variables named in the first column of the README's settings table."""
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in VARIABLE.findall(row.split("|")[1])}


def test_readme_settings_table_lists_exactly_the_variables_the_settings_module_reads() -> None:
    read = read_variables()
    documented = readme_table_variables((ROOT / "README.md").read_text())
    assert len(read) > 60  # every section is declared
    assert sorted(read - documented) == [], "read by gex_pipeline/settings.py, not in README"
    assert sorted(documented - read) == [], "in README's settings table, never read"


UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
WORDS: dict[str, object] = {"off": False, "on": True, "unset": None}


def documented_default(text: str) -> object:
    """The value a README default cell states: `` `250` ``, `2 MiB`, `off`/`on`, `unset`; the
    cell itself when it is prose (or names another variable) and states no single value."""
    text = text.strip()
    if (literal := re.fullmatch(r"`([^`$]*)`", text)) is not None:
        value = literal[1]
        return int(value) if value.isdigit() else value
    if (size := re.fullmatch(r"(\d+) (KiB|MiB|GiB)", text)) is not None:
        return int(size[1]) * UNITS[size[2]]
    return WORDS.get(text, text)


def readme_defaults(text: str) -> dict[str, object]:
    """The default the README's settings table states for each variable it can state one for."""
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    stated: dict[str, object] = {}
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        names_cell, default_cell = row.split("|")[1:3]
        names = VARIABLE.findall(names_cell)
        cells = default_cell.split(" / ")
        cells = cells if len(cells) == len(names) else [default_cell] * len(names)
        stated |= {name: documented_default(cell) for name, cell in zip(names, cells, strict=True)}
    return stated


def test_readme_settings_table_states_the_models_defaults() -> None:
    fields = Settings.variables()
    compared, wrong = 0, []
    for name, stated in readme_defaults((ROOT / "README.md").read_text()).items():
        default = fields[name].default
        if isinstance(default, Path) and isinstance(stated, str):
            stated = Path(stated)
        elif isinstance(stated, str) and not isinstance(default, str):
            continue  # prose: "the four vendor hosts", "loopback names, ..."
        compared += 1
        if stated != default:
            wrong.append(f"{name}: README says {stated!r}, the model {default!r}")
    assert wrong == []
    assert compared > 55


def test_readme_default_parser_reads_each_form() -> None:
    assert documented_default(" `250` ") == 250
    assert documented_default("`1GB`") == "1GB"
    assert documented_default("64 KiB") == 64 * 1024
    assert (documented_default("off"), documented_default("unset")) == (False, None)
    assert documented_default("`$GEX_DATA_DIR/dagster_home`") == "`$GEX_DATA_DIR/dagster_home`"
    table = (
        "\n## Settings\n| `GEX_A` / `GEX_B` | `1` / 2 MiB | x |\n| `GEX_C` / `GEX_D` | on | y |\n"
    )
    assert readme_defaults(table + "\n## Next\n") == {
        "GEX_A": 1,
        "GEX_B": 2 * 2**20,
        "GEX_C": True,
        "GEX_D": True,
    }


def test_readme_table_parser_sees_a_missing_or_an_extra_row() -> None:
    text = (ROOT / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `GEX_RAW_RETENTION_DAYS`"))
    assert "GEX_RAW_RETENTION_DAYS" not in readme_table_variables(text.replace(row + "\n", ""))
    extra = text.replace(row, row + "\n| `GEX_NOT_A_SETTING` | `1` | nothing |")
    assert "GEX_NOT_A_SETTING" in readme_table_variables(extra)


def test_env_example_names_only_variables_the_settings_module_reads() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    named = {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line)}
    assert named and named <= read_variables()


ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def env_reads(source: str, cli_main: bool = False) -> list[int]:
    """Lines of `source` that reach the environment (`os.environ`, `os.getenv`, or those names
    imported from `os`), other than `Settings.from_env(os.environ)` and, in the CLI's `main.py`,
    the child-process environment `dict(os.environ)`."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [node.lineno for alias in node.names if alias.name in ENV_NAMES]
            continue
        if not (isinstance(node, ast.Attribute) and node.attr in ENV_NAMES):
            continue
        call = parents.get(node)
        if isinstance(call, ast.Call) and node in call.args:
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "from_env":
                continue
            if cli_main and isinstance(func, ast.Name) and func.id == "dict":
                continue
        found.append(node.lineno)
    return sorted(found)


def test_env_read_scan_sees_every_form_and_allows_only_the_entry_points() -> None:
    source = (
        "import os\nfrom os import getenv\n"
        "a = os.environ.get('GEX_X')\nb = os.environ['GEX_Y']\nc = os.getenv('GEX_Z')\n"
        "s = Settings.from_env(os.environ)\nchild = dict(os.environ)\n"
    )
    assert env_reads(source) == [2, 3, 4, 5, 7]
    assert env_reads(source, cli_main=True) == [2, 3, 4, 5]


def test_no_module_but_settings_reads_the_environment() -> None:
    files = sorted((ROOT / "gex_pipeline").rglob("*.py")) + sorted(
        (ROOT / "ingest_api").rglob("*.py")
    )
    assert SETTINGS_MODULE in files
    reads = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in files
        if path != SETTINGS_MODULE
        for line in env_reads(path.read_text(), cli_main=path == ROOT / "gex_pipeline/cli/main.py")
    ]
    assert reads == []
    assert env_reads(SETTINGS_MODULE.read_text())  # the scan does see the module's own read


def test_importing_the_entry_points_reads_no_setting() -> None:
    """A malformed variable breaks nothing at import time, only `Settings.from_env`."""
    code = (
        "import gex_pipeline.definitions, gex_pipeline.cli.main, ingest_api.server, "
        "ingest_api.protocol\n"
        "from gex_pipeline.settings import Settings\n"
        "try:\n    Settings.from_env()\nexcept ValueError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "GEX_INGEST_PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "GEX_INGEST_PORT: input should be a valid integer" in done.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GEX_INGEST_MAX_BODY_GEX", "0"),
        ("GEX_HISTORY_RETRIES", "many"),
        ("GEX_LIVE_POLL_MS", "0"),
        ("GEX_DB_BACKUP_KEEP", "-1"),
        ("GEX_ALERT_WEBHOOK_URL", "ftp://alerts.example"),
        ("GEX_SUPERVISOR_MAX_FAST_FAILURES", "0"),
        ("GEX_DAGSTER_GRPC_PORT", "grpc"),
    ],
)
def test_every_section_refuses_a_malformed_value_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_sections_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ValidationError, match="frozen"):
        settings.api.port = 1  # type: ignore[misc]


def test_resources_are_built_from_the_settings_with_real_paths(data_dir: Path) -> None:
    """What the UI's Resources page shows: every path resolved, none left to a step."""
    from gex_pipeline.definitions import defs

    resources = defs().resources
    assert sorted(resources) == ["parquet", "staging", "tables", "uw_parquet"]
    assert resources["tables"].database == str(data_dir / "gex_data.db")
    assert resources["tables"].lake == str((data_dir / "lake").resolve())
    assert resources["tables"].work_dir == str(data_dir / "tmp")
    assert resources["staging"].root == str(data_dir / "staging")
    assert resources["staging"].retention_days == 7
    assert resources["parquet"].root == str(data_dir / "parquet" / "gexbot")
    assert resources["parquet"].views_file == str(data_dir / "gex_views.duckdb")
    assert resources["uw_parquet"].root == str(data_dir / "parquet" / "uw")


def test_a_section_built_directly_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEX_EXPORT_QUIET_SECONDS", "5")
    assert PipelineSettings().export_quiet_seconds == 900
    assert PipelineSettings(export_quiet_seconds=7).export_quiet_seconds == 7
    assert Settings.from_env().pipeline.export_quiet_seconds == 5


def test_a_flag_that_is_neither_on_nor_off_is_refused() -> None:
    with pytest.raises(ValueError, match="GEX_INGEST_FSYNC"):
        Settings.from_env({"GEX_INGEST_FSYNC": "nah"})


def test_a_refused_secret_is_named_but_never_shown() -> None:
    with pytest.raises(ValueError, match="GEX_INGEST_TOKEN") as refused:
        Settings.from_env({"GEX_INGEST_TOKEN": "hunter2-short"})
    assert "hunter2" not in str(refused.value)
