"""Every setting of gex-pipeline, read from environment variables in one place.

`Settings.from_env()` reads and validates every variable the project uses (the README's settings
table lists the same ones; a test compares them) and returns typed frozen sections, so each consumer
takes only the section it needs: `paths`, `api`, `history`, `pipeline`, `ops`, `supervisor`,
`dagster`. A malformed value raises `ValueError` naming the variable. Nothing is read at import time:
entry points (the CLI, the ingest server, the Dagster definitions, a step or sensor at run time)
call `from_env` when they start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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

_TRUE = {"1", "true", "yes", "on"}
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)


# --- parsing -----------------------------------------------------------------------------------


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean flag (`1/true/yes/on`, case-insensitive); unset or blank means `default`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in _TRUE


def _int(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """An integer (at least `minimum` when given); unset or blank means `default`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        value = default
    else:
        try:
            value = int(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list (empty items dropped); unset or blank means `default`."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _text(env: Mapping[str, str], name: str) -> str | None:
    """A string stripped of surrounding whitespace; unset or blank means None."""
    return (env.get(name) or "").strip() or None


def _path(raw: str) -> Path:
    return Path(raw).expanduser().resolve()


# --- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathSettings:
    """Where the deployment keeps its data, its Dagster instance and its secrets."""

    data_dir: Path
    dagster_home: Path
    secrets_dir: Path

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
    def logs_dir(self) -> Path:
        """Logs of the supervisor and the alerts."""
        return self.data_dir / "logs"


def _paths(env: Mapping[str, str]) -> PathSettings:
    """`GEX_DATA_DIR`, `DAGSTER_HOME`, `GEX_SECRETS_DIR` (default under `XDG_CONFIG_HOME`)."""
    data_dir = _path(env.get("GEX_DATA_DIR") or "data")
    config_home = env.get("XDG_CONFIG_HOME") or "~/.config"
    return PathSettings(
        data_dir=data_dir,
        dagster_home=_path(env.get("DAGSTER_HOME") or str(data_dir / "dagster_home")),
        secrets_dir=_path(env.get("GEX_SECRETS_DIR") or str(Path(config_home) / "gex-pipeline")),
    )


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
class ApiSettings:
    """Bind address, security, limits and durability of the ingest API (`GEX_INGEST_*`)."""

    host: str = "127.0.0.1"
    port: int = 8877
    token: str | None = None
    allow_remote: bool = False
    lan: bool = False
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    max_body_gex: int = 2 * 2**20
    max_body_uw: int = 4 * 2**20
    max_body_history: int = 64 * 2**10
    uw_max_batch: int = 5_000
    max_strikes: int = 2_000
    inline_parse_bytes: int = 64 * 2**10
    parse_threads: int = 1
    seal_age_ms: int = 2_000
    seal_bytes: int = 8 * 2**20
    queue_max: int = 20_000
    parallel_fsyncs: int = 2
    fsync: bool = True
    min_free_mb: int = 512
    workers: int = 1
    max_concurrency: int = 1_000
    max_connections: int = 4_096
    header_timeout_s: int = 5
    keepalive_s: int = 5
    body_timeout_s: int = 30
    retry_after_s: int = 1


def _api(env: Mapping[str, str]) -> ApiSettings:
    """The `GEX_INGEST_*` variables (`GEX_INGEST_LAN=1`: bind every interface unless
    `GEX_INGEST_HOST` says otherwise)."""
    lan = _flag(env, "GEX_INGEST_LAN")
    return ApiSettings(
        host=env.get("GEX_INGEST_HOST") or ("0.0.0.0" if lan else ApiSettings.host),
        port=_int(env, "GEX_INGEST_PORT", ApiSettings.port),
        token=_token(env),
        allow_remote=_flag(env, "GEX_INGEST_ALLOW_REMOTE"),
        lan=lan,
        allowed_hosts=tuple(h.lower() for h in _list(env, "GEX_INGEST_ALLOWED_HOSTS", ())),
        cors_origins=tuple(
            o.rstrip("/").lower()
            for o in _list(env, "GEX_INGEST_CORS_ORIGINS", DEFAULT_CORS_ORIGINS)
        ),
        max_body_gex=_positive(env, "GEX_INGEST_MAX_BODY_GEX", ApiSettings.max_body_gex),
        max_body_uw=_positive(env, "GEX_INGEST_MAX_BODY_UW", ApiSettings.max_body_uw),
        max_body_history=_positive(
            env, "GEX_INGEST_MAX_BODY_HISTORY", ApiSettings.max_body_history
        ),
        uw_max_batch=_positive(env, "GEX_INGEST_UW_MAX_BATCH", ApiSettings.uw_max_batch),
        max_strikes=_positive(env, "GEX_INGEST_MAX_STRIKES", ApiSettings.max_strikes),
        inline_parse_bytes=_positive(
            env, "GEX_INGEST_INLINE_PARSE_BYTES", ApiSettings.inline_parse_bytes
        ),
        parse_threads=_positive(env, "GEX_INGEST_PARSE_THREADS", ApiSettings.parse_threads),
        seal_age_ms=_positive(env, "GEX_INGEST_SEAL_AGE_MS", ApiSettings.seal_age_ms),
        seal_bytes=_positive(env, "GEX_INGEST_SEAL_BYTES", ApiSettings.seal_bytes),
        queue_max=_positive(env, "GEX_INGEST_QUEUE_MAX", ApiSettings.queue_max),
        parallel_fsyncs=_positive(env, "GEX_INGEST_PARALLEL_FSYNCS", ApiSettings.parallel_fsyncs),
        fsync=_flag(env, "GEX_INGEST_FSYNC", default=True),
        min_free_mb=_int(env, "GEX_INGEST_MIN_FREE_MB", ApiSettings.min_free_mb),
        workers=_positive(env, "GEX_INGEST_WORKERS", ApiSettings.workers),
        max_concurrency=_positive(env, "GEX_INGEST_MAX_CONCURRENCY", ApiSettings.max_concurrency),
        max_connections=_positive(env, "GEX_INGEST_MAX_CONNECTIONS", ApiSettings.max_connections),
        header_timeout_s=_positive(
            env, "GEX_INGEST_HEADER_TIMEOUT_S", ApiSettings.header_timeout_s
        ),
        keepalive_s=_positive(env, "GEX_INGEST_KEEPALIVE_S", ApiSettings.keepalive_s),
        body_timeout_s=_positive(env, "GEX_INGEST_BODY_TIMEOUT_S", ApiSettings.body_timeout_s),
    )


@dataclass(frozen=True)
class DownloadLimits:
    """Size caps, timeouts and retry schedule of a history download."""

    max_bytes: int = 1024**3
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    total_timeout: float = 900.0
    retries: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_redirects: int = 5


def _download_limits(env: Mapping[str, str]) -> DownloadLimits:
    """`GEX_HISTORY_MAX_BYTES`, `GEX_HISTORY_MAX_DECOMPRESSED_BYTES`,
    `GEX_HISTORY_TIMEOUT_SECONDS` (connect/read), `GEX_HISTORY_TOTAL_TIMEOUT_SECONDS` (one
    attempt) and `GEX_HISTORY_RETRIES`."""
    return DownloadLimits(
        max_bytes=_int(env, "GEX_HISTORY_MAX_BYTES", DownloadLimits.max_bytes),
        max_decompressed_bytes=_int(
            env, "GEX_HISTORY_MAX_DECOMPRESSED_BYTES", DownloadLimits.max_decompressed_bytes
        ),
        read_timeout=float(
            _int(env, "GEX_HISTORY_TIMEOUT_SECONDS", int(DownloadLimits.read_timeout))
        ),
        total_timeout=float(
            _int(env, "GEX_HISTORY_TOTAL_TIMEOUT_SECONDS", int(DownloadLimits.total_timeout))
        ),
        retries=_int(env, "GEX_HISTORY_RETRIES", DownloadLimits.retries),
    )


@dataclass(frozen=True)
class HistorySettings:
    """History links (allowed hosts, rate and queue limits) and imports (download limits, DuckDB
    memory cap, shrink guard, sensor interval, pre-image retention)."""

    allowed_hosts: tuple[str, ...] = DEFAULT_HISTORY_HOSTS
    allow_http: bool = False
    allow_private: bool = False
    max_per_minute: int = 30
    max_pending: int = 50
    retention_days: int = 7
    max_feeds: int = 64
    limits: DownloadLimits = field(default_factory=DownloadLimits)
    duckdb_memory_limit: str = "1GB"
    shrink_percent: int = 50
    sensor_interval_seconds: int = 15
    backup_retention_days: int = 30

    @property
    def shrink_ratio(self) -> float:
        """A replace leaving fewer than this fraction of the stored strike rows is refused."""
        return self.shrink_percent / 100


def _history(env: Mapping[str, str]) -> HistorySettings:
    """The `GEX_HISTORY_*` variables."""
    memory = (
        env.get("GEX_HISTORY_DUCKDB_MEMORY_LIMIT") or HistorySettings.duckdb_memory_limit
    ).strip()
    if not _MEMORY.match(memory):
        raise ValueError(
            f"GEX_HISTORY_DUCKDB_MEMORY_LIMIT must look like 1GB or 512MiB, got {memory!r}"
        )
    shrink = _int(env, "GEX_HISTORY_SHRINK_PERCENT", HistorySettings.shrink_percent)
    if not 0 <= shrink <= 100:
        raise ValueError(f"GEX_HISTORY_SHRINK_PERCENT must be 0..100, got {shrink}")
    hosts = _list(env, "GEX_HISTORY_ALLOWED_HOSTS", DEFAULT_HISTORY_HOSTS)
    return HistorySettings(
        allowed_hosts=tuple(h.lower() for h in hosts),
        allow_http=_flag(env, "GEX_HISTORY_ALLOW_HTTP"),
        allow_private=_flag(env, "GEX_HISTORY_ALLOW_PRIVATE"),
        max_per_minute=_int(env, "GEX_HISTORY_MAX_PER_MINUTE", HistorySettings.max_per_minute, 1),
        max_pending=_int(env, "GEX_HISTORY_MAX_PENDING", HistorySettings.max_pending, 1),
        retention_days=_int(env, "GEX_HISTORY_RETENTION_DAYS", HistorySettings.retention_days, 0),
        max_feeds=_int(env, "GEX_HISTORY_MAX_FEEDS", HistorySettings.max_feeds, 1),
        limits=_download_limits(env),
        duckdb_memory_limit=memory,
        shrink_percent=shrink,
        sensor_interval_seconds=_int(
            env, "GEX_HISTORY_SENSOR_INTERVAL_SECONDS", HistorySettings.sensor_interval_seconds, 1
        ),
        backup_retention_days=_int(
            env, "GEX_HISTORY_BACKUP_RETENTION_DAYS", HistorySettings.backup_retention_days, 0
        ),
    )


@dataclass(frozen=True)
class PipelineSettings:
    """Tuning of the live loader, the staging retention, the Parquet export and freshness."""

    live_poll_ms: int = 250
    live_report_seconds: int = 180
    live_max_segments_per_batch: int = 5000
    staging_retention_days: int = 7
    export_sensor_interval_seconds: int = 120
    export_quiet_seconds: int = 900
    freshness_sensor_interval_seconds: int = 60
    freshness_max_silence_seconds: int = 420
    lake_flush_seconds: int = 2


def _pipeline(env: Mapping[str, str]) -> PipelineSettings:
    """`GEX_LIVE_*`, `GEX_STAGING_RETENTION_DAYS`, `GEX_EXPORT_*`, `GEX_FRESHNESS_*`."""
    return PipelineSettings(
        live_poll_ms=_int(env, "GEX_LIVE_POLL_MS", PipelineSettings.live_poll_ms, 1),
        live_report_seconds=_int(
            env, "GEX_LIVE_REPORT_SECONDS", PipelineSettings.live_report_seconds, 0
        ),
        live_max_segments_per_batch=_int(
            env, "GEX_LIVE_MAX_SEGMENTS_PER_BATCH", PipelineSettings.live_max_segments_per_batch, 1
        ),
        lake_flush_seconds=_int(
            env, "GEX_LAKE_FLUSH_SECONDS", PipelineSettings.lake_flush_seconds, 0
        ),
        staging_retention_days=_int(
            env, "GEX_STAGING_RETENTION_DAYS", PipelineSettings.staging_retention_days, 0
        ),
        export_sensor_interval_seconds=_int(
            env,
            "GEX_EXPORT_SENSOR_INTERVAL_SECONDS",
            PipelineSettings.export_sensor_interval_seconds,
            1,
        ),
        export_quiet_seconds=_int(
            env, "GEX_EXPORT_QUIET_SECONDS", PipelineSettings.export_quiet_seconds, 0
        ),
        freshness_sensor_interval_seconds=_int(
            env,
            "GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS",
            PipelineSettings.freshness_sensor_interval_seconds,
            1,
        ),
        freshness_max_silence_seconds=_int(
            env,
            "GEX_FRESHNESS_MAX_SILENCE_SECONDS",
            PipelineSettings.freshness_max_silence_seconds,
            1,
        ),
    )


@dataclass(frozen=True)
class OpsSettings:
    """How many database backups to keep, how long to keep what, where alerts go.

    Every retention in days treats 0 as "keep everything".
    """

    db_backup_keep: int = 7
    raw_retention_days: int = 0
    run_retention_days: int = 7
    failed_run_retention_days: int = 30
    alert_webhook_url: str | None = None


def _ops(env: Mapping[str, str]) -> OpsSettings:
    """`GEX_DB_BACKUP_KEEP`, `GEX_*_RETENTION_DAYS` of raw files and runs, `GEX_ALERT_WEBHOOK_URL`."""
    url = _text(env, "GEX_ALERT_WEBHOOK_URL")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError(f"GEX_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    return OpsSettings(
        db_backup_keep=_int(env, "GEX_DB_BACKUP_KEEP", OpsSettings.db_backup_keep, 0),
        raw_retention_days=_int(env, "GEX_RAW_RETENTION_DAYS", OpsSettings.raw_retention_days, 0),
        run_retention_days=_int(env, "GEX_RUN_RETENTION_DAYS", OpsSettings.run_retention_days, 0),
        failed_run_retention_days=_int(
            env, "GEX_FAILED_RUN_RETENTION_DAYS", OpsSettings.failed_run_retention_days, 0
        ),
        alert_webhook_url=url,
    )


@dataclass(frozen=True)
class SupervisorSettings:
    """Backoff and give-up rule of `gex-pipeline up` (`GEX_SUPERVISOR_*`)."""

    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    stable_seconds: float = 60.0
    max_fast_failures: int = 5

    def backoff(self, fast_failures: int) -> float:
        """Delay before the next start after `fast_failures` fast failures in a row (>= 1)."""
        return min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, fast_failures - 1))


def _supervisor(env: Mapping[str, str]) -> SupervisorSettings:
    """`GEX_SUPERVISOR_BACKOFF_MS`, `GEX_SUPERVISOR_BACKOFF_MAX_SECONDS`,
    `GEX_SUPERVISOR_STABLE_SECONDS`, `GEX_SUPERVISOR_MAX_FAST_FAILURES`."""
    return SupervisorSettings(
        backoff_seconds=_int(env, "GEX_SUPERVISOR_BACKOFF_MS", 1000, 1) / 1000,
        backoff_max_seconds=float(_int(env, "GEX_SUPERVISOR_BACKOFF_MAX_SECONDS", 60)),
        stable_seconds=float(_int(env, "GEX_SUPERVISOR_STABLE_SECONDS", 60)),
        max_fast_failures=_int(env, "GEX_SUPERVISOR_MAX_FAST_FAILURES", 5, 1),
    )


@dataclass(frozen=True)
class DagsterSettings:
    """Ports of the Dagster services `gex-pipeline up` starts, and the instance storage."""

    port: int = 3000
    grpc_port: int = 4266
    postgres_url: str | None = None


def _dagster(env: Mapping[str, str]) -> DagsterSettings:
    """`GEX_DAGSTER_PORT`, `GEX_DAGSTER_GRPC_PORT`, `GEX_DAGSTER_POSTGRES_URL`."""
    return DagsterSettings(
        port=_int(env, "GEX_DAGSTER_PORT", DagsterSettings.port),
        grpc_port=_int(env, "GEX_DAGSTER_GRPC_PORT", DagsterSettings.grpc_port),
        postgres_url=_text(env, "GEX_DAGSTER_POSTGRES_URL"),
    )


# --- the whole ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Every setting of one gex-pipeline deployment, by section."""

    paths: PathSettings
    api: ApiSettings = field(default_factory=ApiSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    supervisor: SupervisorSettings = field(default_factory=SupervisorSettings)
    dagster: DagsterSettings = field(default_factory=DagsterSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable of `env` (default `os.environ`); see the README's
        settings table. Raises `ValueError` naming the first malformed variable."""
        env = os.environ if env is None else env
        return cls(
            paths=_paths(env),
            api=_api(env),
            history=_history(env),
            pipeline=_pipeline(env),
            ops=_ops(env),
            supervisor=_supervisor(env),
            dagster=_dagster(env),
        )
