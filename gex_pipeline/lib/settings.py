"""Settings shared by the ingest API, the CLI and the Dagster code location.

Everything comes from environment variables with defaults; nothing is read at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HISTORY_HOSTS: tuple[str, ...] = (
    "hist.gex.bot",
    "hist.gexbot.com",
    "app.gexbot.com",
    "nfagexbotresearch.blob.core.windows.net",
)

_TRUE = {"1", "true", "yes", "on"}


def env_flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """Read a boolean flag (`1/true/yes/on`, case-insensitive) from `env`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in _TRUE


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """Read an integer from `env`, failing loudly with the variable's name when it is malformed."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def env_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Read a comma-separated list from `env` (empty items dropped); unset means `default`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def default_secrets_dir(env: Mapping[str, str]) -> Path:
    """`GEX_SECRETS_DIR`, else `$XDG_CONFIG_HOME/gex-pipeline`, else `~/.config/gex-pipeline`."""
    explicit = env.get("GEX_SECRETS_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    config_home = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(config_home).expanduser().resolve() / "gex-pipeline"


def _at_least(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = env_int(env, name, default)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


MIN_TOKEN_LENGTH = 16


def _token(env: Mapping[str, str]) -> str | None:
    """`GEX_INGEST_TOKEN` stripped; unset or empty means none, shorter than 16 chars is refused."""
    raw = env.get("GEX_INGEST_TOKEN")
    if raw is None or raw == "":
        return None
    token = raw.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"GEX_INGEST_TOKEN must hold at least {MIN_TOKEN_LENGTH} characters besides "
            f"surrounding whitespace, got {len(token)}"
        )
    return token


@dataclass(frozen=True)
class Settings:
    """Paths and network settings of one gex-pipeline deployment."""

    data_dir: Path
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8877
    dagster_port: int = 3000
    dagster_grpc_port: int = 4266
    ingest_token: str | None = None
    history_allowed_hosts: tuple[str, ...] = DEFAULT_HISTORY_HOSTS
    history_allow_http: bool = False
    history_allow_private: bool = False
    dagster_home: Path = field(default=Path())
    secrets_dir: Path = field(default=Path())
    history_max_per_minute: int = 30
    history_max_pending: int = 50
    history_retention_days: int = 7
    history_max_feeds: int = 64

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (see the README's settings table)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("GEX_DATA_DIR") or "data").expanduser().resolve()
        dagster_home = env.get("DAGSTER_HOME") or str(data_dir / "dagster_home")
        return cls(
            data_dir=data_dir,
            ingest_host=env.get("GEX_INGEST_HOST") or "127.0.0.1",
            ingest_port=env_int(env, "GEX_INGEST_PORT", 8877),
            dagster_port=env_int(env, "GEX_DAGSTER_PORT", 3000),
            dagster_grpc_port=env_int(env, "GEX_DAGSTER_GRPC_PORT", 4266),
            ingest_token=_token(env),
            history_allowed_hosts=tuple(
                h.lower() for h in env_list(env, "GEX_HISTORY_ALLOWED_HOSTS", DEFAULT_HISTORY_HOSTS)
            ),
            history_allow_http=env_flag(env, "GEX_HISTORY_ALLOW_HTTP"),
            history_allow_private=env_flag(env, "GEX_HISTORY_ALLOW_PRIVATE"),
            dagster_home=Path(dagster_home).expanduser().resolve(),
            secrets_dir=default_secrets_dir(env),
            history_max_per_minute=_at_least(env, "GEX_HISTORY_MAX_PER_MINUTE", 30, 1),
            history_max_pending=_at_least(env, "GEX_HISTORY_MAX_PENDING", 50, 1),
            history_retention_days=_at_least(env, "GEX_HISTORY_RETENTION_DAYS", 7, 0),
            history_max_feeds=_at_least(env, "GEX_HISTORY_MAX_FEEDS", 64, 1),
        )

    @property
    def duckdb_path(self) -> Path:
        """The DuckDB database file."""
        return self.data_dir / "gex_data.db"

    @property
    def staging_dir(self) -> Path:
        """Root of the staging area written by the ingest API."""
        return self.data_dir / "staging"

    @property
    def source_dir(self) -> Path:
        """Root of downloaded historical day files (`source/gexbot/<TICKER>/<endpoint>/`)."""
        return self.data_dir / "source" / "gexbot"

    @property
    def parquet_dir(self) -> Path:
        """Root of exported Parquet files (`parquet/gexbot/<TICKER>/<endpoint>/`)."""
        return self.data_dir / "parquet" / "gexbot"

    @property
    def backups_dir(self) -> Path:
        """Pre-images of replaced partitions."""
        return self.data_dir / "backups"

    @property
    def db_backups_dir(self) -> Path:
        """Whole-database backups (`gex-pipeline backup`), one directory each."""
        return self.backups_dir / "db"
