"""Settings of the ingest API, read from environment variables (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gex_pipeline.lib.settings import Settings, env_flag, env_int, env_list

DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "https://gexbot.com",
    "https://www.gexbot.com",
    "https://app.gexbot.com",
    "https://hist.gex.bot",
    "https://unusualwhales.com",
    "https://www.unusualwhales.com",
)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = env_int(env, name, default)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


@dataclass(frozen=True)
class ApiSettings:
    """Limits, security and durability knobs of the ingest API on top of the shared `Settings`."""

    base: Settings
    max_body_gex: int = 2 * 2**20
    max_body_uw: int = 4 * 2**20
    max_body_history: int = 64 * 2**10
    uw_max_batch: int = 5_000
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    allow_remote: bool = False
    seal_age_ms: int = 2_000
    seal_bytes: int = 8 * 2**20
    queue_max: int = 20_000
    fsync: bool = True
    parallel_fsyncs: int = 2
    min_free_mb: int = 512
    workers: int = 1
    max_concurrency: int = 1_000
    max_connections: int = 4_096
    header_timeout_s: int = 5
    keepalive_s: int = 5
    body_timeout_s: int = 30
    retry_after_s: int = 1
    max_strikes: int = 2_000
    inline_parse_bytes: int = 64 * 2**10
    parse_threads: int = 1
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, base: Settings | None = None
    ) -> ApiSettings:
        """Build the API settings from `env` (default `os.environ`); `base` defaults to the same env."""
        env = os.environ if env is None else env
        return cls(
            base=base or Settings.from_env(env),
            max_body_gex=_positive(env, "GEX_INGEST_MAX_BODY_GEX", cls.max_body_gex),
            max_body_uw=_positive(env, "GEX_INGEST_MAX_BODY_UW", cls.max_body_uw),
            max_body_history=_positive(env, "GEX_INGEST_MAX_BODY_HISTORY", cls.max_body_history),
            uw_max_batch=_positive(env, "GEX_INGEST_UW_MAX_BATCH", cls.uw_max_batch),
            cors_origins=tuple(
                o.rstrip("/").lower()
                for o in env_list(env, "GEX_INGEST_CORS_ORIGINS", DEFAULT_CORS_ORIGINS)
            ),
            allow_remote=env_flag(env, "GEX_INGEST_ALLOW_REMOTE"),
            seal_age_ms=_positive(env, "GEX_INGEST_SEAL_AGE_MS", cls.seal_age_ms),
            seal_bytes=_positive(env, "GEX_INGEST_SEAL_BYTES", cls.seal_bytes),
            queue_max=_positive(env, "GEX_INGEST_QUEUE_MAX", cls.queue_max),
            fsync=env_flag(env, "GEX_INGEST_FSYNC", default=True),
            parallel_fsyncs=_positive(env, "GEX_INGEST_PARALLEL_FSYNCS", cls.parallel_fsyncs),
            min_free_mb=env_int(env, "GEX_INGEST_MIN_FREE_MB", cls.min_free_mb),
            workers=_positive(env, "GEX_INGEST_WORKERS", cls.workers),
            max_concurrency=_positive(env, "GEX_INGEST_MAX_CONCURRENCY", cls.max_concurrency),
            max_connections=_positive(env, "GEX_INGEST_MAX_CONNECTIONS", cls.max_connections),
            header_timeout_s=_positive(env, "GEX_INGEST_HEADER_TIMEOUT_S", cls.header_timeout_s),
            keepalive_s=_positive(env, "GEX_INGEST_KEEPALIVE_S", cls.keepalive_s),
            body_timeout_s=_positive(env, "GEX_INGEST_BODY_TIMEOUT_S", cls.body_timeout_s),
            max_strikes=_positive(env, "GEX_INGEST_MAX_STRIKES", cls.max_strikes),
            inline_parse_bytes=_positive(
                env, "GEX_INGEST_INLINE_PARSE_BYTES", cls.inline_parse_bytes
            ),
            parse_threads=_positive(env, "GEX_INGEST_PARSE_THREADS", cls.parse_threads),
            allowed_hosts=tuple(h.lower() for h in env_list(env, "GEX_INGEST_ALLOWED_HOSTS", ())),
        )
