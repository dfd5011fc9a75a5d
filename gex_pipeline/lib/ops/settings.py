"""Settings of backups, retention and alerts, read from the environment when they are needed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gex_pipeline.lib.settings import env_int


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
    feed_quiet_seconds: int = 420

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpsSettings:
        """Read `GEX_DB_BACKUP_KEEP`, `GEX_RAW_RETENTION_DAYS`, `GEX_RUN_RETENTION_DAYS`,
        `GEX_FAILED_RUN_RETENTION_DAYS`, `GEX_ALERT_WEBHOOK_URL`, `GEX_ALERT_FEED_QUIET_SECONDS`."""
        env = os.environ if env is None else env
        settings = cls(
            db_backup_keep=env_int(env, "GEX_DB_BACKUP_KEEP", cls.db_backup_keep),
            raw_retention_days=env_int(env, "GEX_RAW_RETENTION_DAYS", cls.raw_retention_days),
            run_retention_days=env_int(env, "GEX_RUN_RETENTION_DAYS", cls.run_retention_days),
            failed_run_retention_days=env_int(
                env, "GEX_FAILED_RUN_RETENTION_DAYS", cls.failed_run_retention_days
            ),
            alert_webhook_url=(env.get("GEX_ALERT_WEBHOOK_URL") or "").strip() or None,
            feed_quiet_seconds=env_int(env, "GEX_ALERT_FEED_QUIET_SECONDS", cls.feed_quiet_seconds),
        )
        for name, value in (
            ("GEX_DB_BACKUP_KEEP", settings.db_backup_keep),
            ("GEX_RAW_RETENTION_DAYS", settings.raw_retention_days),
            ("GEX_RUN_RETENTION_DAYS", settings.run_retention_days),
            ("GEX_FAILED_RUN_RETENTION_DAYS", settings.failed_run_retention_days),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0 (0 keeps everything), got {value}")
        if settings.feed_quiet_seconds < 1:
            raise ValueError("GEX_ALERT_FEED_QUIET_SECONDS must be >= 1")
        url = settings.alert_webhook_url
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"GEX_ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
        return settings
