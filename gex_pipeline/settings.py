"""Every setting of gex-pipeline, declared once as pydantic-settings models, one per section.

`Settings.from_env()` reads and validates every variable the project uses (the README's settings
table lists the same ones, with the same defaults; a test compares them) and returns typed frozen
sections, so each consumer takes only the section it needs: `paths`, `api`, `history`, `pipeline`,
`ops`, `lake`, `supervisor`, `dagster`. A field's alias is its variable's name; a malformed value raises
`ValueError` naming the variable. Nothing is read at import time: entry points (the CLI, the ingest
server, the Dagster definitions, a step or sensor at run time) call `from_env` when they start. A
section built directly (`PipelineSettings(export_quiet_seconds=5)`) holds its defaults and the given
values, never the environment's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gex_pipeline.lib.history.day_format import MAX_DECOMPRESSED_BYTES

DEFAULT_HISTORY_HOSTS: tuple[str, ...] = (
    "hist.gex.bot",
    "hist.gexbot.com",
    "app.gexbot.com",
    "nfagexbotresearch.blob.core.windows.net",
)
DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "https://gexbot.com",
    "https://www.gexbot.com",
    "https://app.gexbot.com",
    "https://hist.gex.bot",
    "https://unusualwhales.com",
    "https://www.unusualwhales.com",
)
MIN_TOKEN_LENGTH = 16
# Variables whose value never appears in an error message.
SECRETS = frozenset(
    {
        "GEX_INGEST_TOKEN",
        "GEX_ALERT_WEBHOOK_URL",
        "GEX_DAGSTER_POSTGRES_URL",
        "GEX_LAKE_S3_SECRET_ACCESS_KEY",
    }
)


def _split(raw: object) -> tuple[str, ...]:
    """A comma-separated value's items (empty ones dropped); a tuple given directly as is."""
    if isinstance(raw, str):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return tuple(raw)  # type: ignore[call-overload]


# Comma-separated lists in the environment (not JSON): host names and web origins, lowercased.
HostList = Annotated[
    tuple[str, ...], NoDecode, BeforeValidator(lambda raw: tuple(h.lower() for h in _split(raw)))
]
OriginList = Annotated[
    tuple[str, ...],
    NoDecode,
    BeforeValidator(lambda raw: tuple(o.rstrip("/").lower() for o in _split(raw))),
]


def _var(default: Any, name: str, **constraints: Any) -> Any:
    """A field read from the environment variable `name`."""
    return Field(default, alias=name, **constraints)


def _path(raw: Path) -> Path:
    return raw.expanduser().resolve()


class _Variables(EnvSettingsSource):
    """pydantic-settings' environment source over `env` (by default `os.environ`), limited to the
    section's own variables; an empty value counts as unset."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        names = {f.alias for f in settings_cls.model_fields.values() if f.alias}
        self.env_vars = {name: env[name] for name in names if env.get(name)}


class Section(BaseSettings):
    """A frozen group of settings; `read(env)` takes them from environment variables."""

    model_config = SettingsConfigDict(
        frozen=True, case_sensitive=True, validate_by_name=True, str_strip_whitespace=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Built directly, a section takes only the values it is given."""
        return (init_settings,)

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Self:
        """This section (and the sections nested in it) from the variables of `env`. Raises
        `ValueError` naming each malformed variable."""
        try:
            section = cls(_build_sources=((_Variables(cls, env),), {}))
        except ValidationError as exc:
            raise ValueError("; ".join(_describe(error) for error in exc.errors())) from None
        nested = {
            name: type(value).read(env) for name, value in section if isinstance(value, Section)
        }
        return section.model_copy(update=nested) if nested else section

    @classmethod
    def variables(cls) -> dict[str, FieldInfo]:
        """The fields read from the environment, by variable name (nested sections included)."""
        found = {f.alias: f for f in cls.model_fields.values() if f.alias}
        for f in cls.model_fields.values():
            if isinstance(f.annotation, type) and issubclass(f.annotation, Section):
                found |= f.annotation.variables()
        return found


def _describe(error: Any) -> str:
    """`GEX_X: <pydantic's message>, got '<value>'` (a secret's value is never shown)."""
    name = str(error["loc"][0]) if error["loc"] else "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    shown = "" if name in SECRETS or "input" not in error else f", got {error['input']!r}"
    return f"{name}: {message}{shown}"


class PathSettings(Section):
    """Where the deployment keeps its data, its Dagster instance and its secrets."""

    data_dir: Path = _var(Path("data"), "GEX_DATA_DIR", validate_default=True)
    config_home: Path = _var(Path("~/.config"), "XDG_CONFIG_HOME", validate_default=True)
    dagster_home: Path = _var(None, "DAGSTER_HOME", validate_default=True)
    secrets_dir: Path = _var(None, "GEX_SECRETS_DIR", validate_default=True)

    @field_validator("dagster_home", "secrets_dir", mode="before")
    @classmethod
    def _default_under(cls, value: object, info: ValidationInfo) -> object:
        """`DAGSTER_HOME` defaults to `$GEX_DATA_DIR/dagster_home`, `GEX_SECRETS_DIR` to
        `$XDG_CONFIG_HOME/gex-pipeline`."""
        if value is not None:
            return value
        if info.field_name == "dagster_home":
            return info.data.get("data_dir", Path("data")) / "dagster_home"
        return info.data.get("config_home", Path("~/.config")) / "gex-pipeline"

    @field_validator("*", mode="after")
    @classmethod
    def _resolved(cls, value: Path) -> Path:
        return _path(value)

    @property
    def duckdb_path(self) -> Path:
        """The DuckDB database file."""
        return self.data_dir / "gex_data.db"

    @property
    def lake_dir(self) -> Path:
        """The lake: the Delta tables that hold every closed partition (`lake/<table>/`)."""
        return self.data_dir / "lake"

    @property
    def work_dir(self) -> Path:
        """Scratch space of batch jobs (DuckDB spill files, rebuild scratch databases)."""
        return self.data_dir / "tmp"

    @property
    def views_path(self) -> Path:
        """The DuckDB file of read-only reader views over the Parquet files."""
        return self.data_dir / "gex_views.duckdb"

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
        """Root of exported GEX Parquet files (`parquet/gexbot/<TICKER>/<endpoint>/`)."""
        return self.data_dir / "parquet" / "gexbot"

    @property
    def uw_parquet_dir(self) -> Path:
        """Root of exported option-trade Parquet files."""
        return self.data_dir / "parquet" / "uw"

    @property
    def backups_dir(self) -> Path:
        """Pre-images of replaced partitions."""
        return self.data_dir / "backups"

    @property
    def db_backups_dir(self) -> Path:
        """Whole-database backups (`gex-pipeline backup`), one directory each."""
        return self.backups_dir / "db"

    @property
    def metrics_dir(self) -> Path:
        """Prometheus text files of the live loader and the runs, served by the API."""
        return self.data_dir / "metrics"

    @property
    def logs_dir(self) -> Path:
        """Logs of the supervisor and the alerts."""
        return self.data_dir / "logs"


class ApiSettings(Section):
    """Bind address, security, limits and durability of the ingest API (`GEX_INGEST_*`)."""

    host: str = _var("127.0.0.1", "GEX_INGEST_HOST")
    port: int = _var(8877, "GEX_INGEST_PORT")
    token: str | None = _var(None, "GEX_INGEST_TOKEN")
    allow_remote: bool = _var(False, "GEX_INGEST_ALLOW_REMOTE")
    lan: bool = _var(False, "GEX_INGEST_LAN")
    allowed_hosts: HostList = _var((), "GEX_INGEST_ALLOWED_HOSTS")
    cors_origins: OriginList = _var(DEFAULT_CORS_ORIGINS, "GEX_INGEST_CORS_ORIGINS")
    max_body_gex: int = _var(2 * 2**20, "GEX_INGEST_MAX_BODY_GEX", gt=0)
    max_body_uw: int = _var(4 * 2**20, "GEX_INGEST_MAX_BODY_UW", gt=0)
    max_body_history: int = _var(64 * 2**10, "GEX_INGEST_MAX_BODY_HISTORY", gt=0)
    uw_max_batch: int = _var(5_000, "GEX_INGEST_UW_MAX_BATCH", gt=0)
    max_strikes: int = _var(2_000, "GEX_INGEST_MAX_STRIKES", gt=0)
    inline_parse_bytes: int = _var(64 * 2**10, "GEX_INGEST_INLINE_PARSE_BYTES", gt=0)
    parse_threads: int = _var(1, "GEX_INGEST_PARSE_THREADS", gt=0)
    seal_age_ms: int = _var(2_000, "GEX_INGEST_SEAL_AGE_MS", gt=0)
    seal_bytes: int = _var(8 * 2**20, "GEX_INGEST_SEAL_BYTES", gt=0)
    queue_max: int = _var(20_000, "GEX_INGEST_QUEUE_MAX", gt=0)
    parallel_fsyncs: int = _var(2, "GEX_INGEST_PARALLEL_FSYNCS", gt=0)
    fsync: bool = _var(True, "GEX_INGEST_FSYNC")
    min_free_mb: int = _var(512, "GEX_INGEST_MIN_FREE_MB")
    workers: int = _var(1, "GEX_INGEST_WORKERS", gt=0)
    max_concurrency: int = _var(1_000, "GEX_INGEST_MAX_CONCURRENCY", gt=0)
    max_connections: int = _var(4_096, "GEX_INGEST_MAX_CONNECTIONS", gt=0)
    header_timeout_s: int = _var(5, "GEX_INGEST_HEADER_TIMEOUT_S", gt=0)
    keepalive_s: int = _var(5, "GEX_INGEST_KEEPALIVE_S", gt=0)
    body_timeout_s: int = _var(30, "GEX_INGEST_BODY_TIMEOUT_S", gt=0)
    retry_after_s: int = 1

    @model_validator(mode="before")
    @classmethod
    def _lan_binds_every_interface(cls, data: Any) -> Any:
        """`GEX_INGEST_LAN=1` binds every interface unless `GEX_INGEST_HOST` says otherwise."""
        if not isinstance(data, dict):
            return data
        lan = data.get("GEX_INGEST_LAN", data.get("lan"))
        on = lan is True or str(lan).strip().lower() in {"1", "true", "yes", "on"}
        if on and data.get("GEX_INGEST_HOST", data.get("host")) is None:
            return {**data, "GEX_INGEST_HOST": "0.0.0.0"}
        return data

    @field_validator("token", mode="after")
    @classmethod
    def _long_enough(cls, token: str | None) -> str | None:
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"must hold at least {MIN_TOKEN_LENGTH} characters besides surrounding "
                f"whitespace, got {len(token)}"
            )
        return token


class DownloadLimits(Section):
    """Size caps, timeouts and retry schedule of a history download."""

    max_bytes: int = _var(1024**3, "GEX_HISTORY_MAX_BYTES")
    max_decompressed_bytes: int = _var(MAX_DECOMPRESSED_BYTES, "GEX_HISTORY_MAX_DECOMPRESSED_BYTES")
    connect_timeout: float = 10.0
    read_timeout: float = _var(60.0, "GEX_HISTORY_TIMEOUT_SECONDS")
    total_timeout: float = _var(900.0, "GEX_HISTORY_TOTAL_TIMEOUT_SECONDS")
    retries: int = _var(4, "GEX_HISTORY_RETRIES")
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_redirects: int = 5


class HistorySettings(Section):
    """History links (allowed hosts, rate and queue limits) and imports (download limits, DuckDB
    memory cap, shrink guard, sensor interval, pre-image retention)."""

    allowed_hosts: HostList = _var(DEFAULT_HISTORY_HOSTS, "GEX_HISTORY_ALLOWED_HOSTS")
    allow_http: bool = _var(False, "GEX_HISTORY_ALLOW_HTTP")
    allow_private: bool = _var(False, "GEX_HISTORY_ALLOW_PRIVATE")
    max_per_minute: int = _var(30, "GEX_HISTORY_MAX_PER_MINUTE", ge=1)
    max_pending: int = _var(50, "GEX_HISTORY_MAX_PENDING", ge=1)
    retention_days: int = _var(7, "GEX_HISTORY_RETENTION_DAYS", ge=0)
    max_feeds: int = _var(64, "GEX_HISTORY_MAX_FEEDS", ge=1)
    limits: DownloadLimits = Field(default_factory=DownloadLimits)
    duckdb_memory_limit: str = _var(
        "1GB",
        "GEX_HISTORY_DUCKDB_MEMORY_LIMIT",
        pattern=r"(?i)^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
    )
    shrink_percent: int = _var(50, "GEX_HISTORY_SHRINK_PERCENT", ge=0, le=100)
    sensor_interval_seconds: int = _var(15, "GEX_HISTORY_SENSOR_INTERVAL_SECONDS", ge=1)
    backup_retention_days: int = _var(30, "GEX_HISTORY_BACKUP_RETENTION_DAYS", ge=0)

    @property
    def shrink_ratio(self) -> float:
        """A replace leaving fewer than this fraction of the stored strike rows is refused."""
        return self.shrink_percent / 100


class PipelineSettings(Section):
    """Tuning of the live loader, the staging retention, the Parquet export and freshness."""

    live_poll_ms: int = _var(250, "GEX_LIVE_POLL_MS", ge=1)
    live_report_seconds: int = _var(180, "GEX_LIVE_REPORT_SECONDS", ge=0)
    live_max_segments_per_batch: int = _var(5000, "GEX_LIVE_MAX_SEGMENTS_PER_BATCH", ge=1)
    staging_retention_days: int = _var(7, "GEX_STAGING_RETENTION_DAYS", ge=0)
    export_sensor_interval_seconds: int = _var(120, "GEX_EXPORT_SENSOR_INTERVAL_SECONDS", ge=1)
    export_quiet_seconds: int = _var(900, "GEX_EXPORT_QUIET_SECONDS", ge=0)
    freshness_sensor_interval_seconds: int = _var(60, "GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS", ge=1)
    freshness_max_silence_seconds: int = _var(420, "GEX_FRESHNESS_MAX_SILENCE_SECONDS", ge=1)
    lake_flush_seconds: int | None = _var(None, "GEX_LAKE_FLUSH_SECONDS", ge=0)


class LakeSettings(Section):
    """Where the lake lives: `$GEX_DATA_DIR/lake` by default, or tables shared by several hosts on
    S3-compatible object storage (`GEX_LAKE_URI=s3://bucket/prefix`; docs/deployment.md).

    Credentials unset here are taken by the object store client from the standard `AWS_*`
    variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, ...).
    """

    uri: str | None = _var(None, "GEX_LAKE_URI")
    s3_endpoint: str | None = _var(None, "GEX_LAKE_S3_ENDPOINT")
    s3_region: str | None = _var(None, "GEX_LAKE_S3_REGION")
    s3_access_key_id: str | None = _var(None, "GEX_LAKE_S3_ACCESS_KEY_ID")
    s3_secret_access_key: str | None = _var(None, "GEX_LAKE_S3_SECRET_ACCESS_KEY")
    s3_allow_http: bool = _var(False, "GEX_LAKE_S3_ALLOW_HTTP")
    host: str | None = _var(None, "GEX_LAKE_HOST", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

    @field_validator("uri", mode="after")
    @classmethod
    def _object_store_uri(cls, uri: str | None) -> str | None:
        if uri and "://" in uri and not uri.startswith(("s3://", "file://")):
            raise ValueError("must be an s3://bucket/prefix URI or a local directory")
        if uri and uri.startswith("s3://") and not uri.removeprefix("s3://").strip("/"):
            raise ValueError("must name a bucket: s3://bucket/prefix")
        return uri or None

    @field_validator("s3_endpoint", mode="after")
    @classmethod
    def _endpoint_url(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url or None

    @property
    def object_store(self) -> bool:
        """Whether the lake is on object storage."""
        return bool(self.uri) and str(self.uri).startswith("s3://")


class OpsSettings(Section):
    """How many database backups to keep, how long to keep what, where alerts go.

    Every retention in days treats 0 as "keep everything".
    """

    db_backup_keep: int = _var(7, "GEX_DB_BACKUP_KEEP", ge=0)
    raw_retention_days: int = _var(0, "GEX_RAW_RETENTION_DAYS", ge=0)
    run_retention_days: int = _var(7, "GEX_RUN_RETENTION_DAYS", ge=0)
    failed_run_retention_days: int = _var(30, "GEX_FAILED_RUN_RETENTION_DAYS", ge=0)
    alert_webhook_url: str | None = _var(None, "GEX_ALERT_WEBHOOK_URL")

    @field_validator("alert_webhook_url", mode="after")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url or None


class SupervisorSettings(Section):
    """Backoff and give-up rule of `gex-pipeline up` (`GEX_SUPERVISOR_*`)."""

    backoff_ms: int = _var(1000, "GEX_SUPERVISOR_BACKOFF_MS", ge=1)
    backoff_max_seconds: float = _var(60.0, "GEX_SUPERVISOR_BACKOFF_MAX_SECONDS")
    stable_seconds: float = _var(60.0, "GEX_SUPERVISOR_STABLE_SECONDS")
    max_fast_failures: int = _var(5, "GEX_SUPERVISOR_MAX_FAST_FAILURES", ge=1)

    @property
    def backoff_seconds(self) -> float:
        """Delay before the first restart after a fast failure."""
        return self.backoff_ms / 1000

    def backoff(self, fast_failures: int) -> float:
        """Delay before the next start after `fast_failures` fast failures in a row (>= 1)."""
        return min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, fast_failures - 1))


class DagsterSettings(Section):
    """Ports of the Dagster services `gex-pipeline up` starts, and the instance storage."""

    port: int = _var(3000, "GEX_DAGSTER_PORT")
    grpc_port: int = _var(4266, "GEX_DAGSTER_GRPC_PORT")
    postgres_url: str | None = _var(None, "GEX_DAGSTER_POSTGRES_URL")

    @field_validator("postgres_url", mode="after")
    @classmethod
    def _blank_is_unset(cls, url: str | None) -> str | None:
        return url or None


@dataclass(frozen=True)
class Settings:
    """Every setting of one gex-pipeline deployment, by section."""

    paths: PathSettings
    api: ApiSettings = field(default_factory=ApiSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    lake: LakeSettings = field(default_factory=LakeSettings)
    supervisor: SupervisorSettings = field(default_factory=SupervisorSettings)
    dagster: DagsterSettings = field(default_factory=DagsterSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable of `env` (default `os.environ`); see the README's
        settings table. Raises `ValueError` naming the malformed variables of the first section
        that has any."""
        env = os.environ if env is None else env
        return cls(**{name: section.read(env) for name, section in SECTIONS.items()})

    @staticmethod
    def variables() -> dict[str, FieldInfo]:
        """Every variable the settings read, with its field (alias, default, constraints)."""
        return {name: f for section in SECTIONS.values() for name, f in section.variables().items()}


SECTIONS: dict[str, type[Section]] = {
    "paths": PathSettings,
    "api": ApiSettings,
    "history": HistorySettings,
    "pipeline": PipelineSettings,
    "ops": OpsSettings,
    "lake": LakeSettings,
    "supervisor": SupervisorSettings,
    "dagster": DagsterSettings,
}
