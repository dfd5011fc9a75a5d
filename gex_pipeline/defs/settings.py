"""Pipeline settings read from the environment when definitions load or a step runs (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gex_pipeline.lib.settings import env_int


@dataclass(frozen=True)
class PipelineSettings:
    """Tuning of the live loader and the Parquet export."""

    live_poll_ms: int = 250
    live_report_seconds: int = 180
    live_max_segments_per_batch: int = 5000
    staging_retention_days: int = 7
    export_sensor_interval_seconds: int = 60
    export_quiet_seconds: int = 900
    freshness_sensor_interval_seconds: int = 60
    freshness_max_silence_seconds: int = 420

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineSettings:
        """Read `GEX_LIVE_POLL_MS`, `GEX_LIVE_REPORT_SECONDS`, `GEX_LIVE_MAX_SEGMENTS_PER_BATCH`,
        `GEX_STAGING_RETENTION_DAYS`, `GEX_EXPORT_SENSOR_INTERVAL_SECONDS`,
        `GEX_EXPORT_QUIET_SECONDS`,
        `GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS`, `GEX_FRESHNESS_MAX_SILENCE_SECONDS`."""
        env = os.environ if env is None else env
        settings = cls(
            live_poll_ms=env_int(env, "GEX_LIVE_POLL_MS", 250),
            live_report_seconds=env_int(env, "GEX_LIVE_REPORT_SECONDS", 180),
            live_max_segments_per_batch=env_int(env, "GEX_LIVE_MAX_SEGMENTS_PER_BATCH", 5000),
            staging_retention_days=env_int(env, "GEX_STAGING_RETENTION_DAYS", 7),
            export_sensor_interval_seconds=env_int(env, "GEX_EXPORT_SENSOR_INTERVAL_SECONDS", 60),
            export_quiet_seconds=env_int(env, "GEX_EXPORT_QUIET_SECONDS", 900),
            freshness_sensor_interval_seconds=env_int(
                env, "GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS", 60
            ),
            freshness_max_silence_seconds=env_int(env, "GEX_FRESHNESS_MAX_SILENCE_SECONDS", 420),
        )
        for name, value in (
            ("GEX_LIVE_POLL_MS", settings.live_poll_ms),
            ("GEX_LIVE_MAX_SEGMENTS_PER_BATCH", settings.live_max_segments_per_batch),
            ("GEX_EXPORT_SENSOR_INTERVAL_SECONDS", settings.export_sensor_interval_seconds),
            ("GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS", settings.freshness_sensor_interval_seconds),
            ("GEX_FRESHNESS_MAX_SILENCE_SECONDS", settings.freshness_max_silence_seconds),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name, value in (
            ("GEX_LIVE_REPORT_SECONDS", settings.live_report_seconds),
            ("GEX_STAGING_RETENTION_DAYS", settings.staging_retention_days),
            ("GEX_EXPORT_QUIET_SECONDS", settings.export_quiet_seconds),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        return settings
