"""Settings of historical imports, read from the environment when a run or sensor needs them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gex_pipeline.lib.history.download import DownloadLimits
from gex_pipeline.lib.settings import env_int

_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class HistorySettings:
    """Download limits, DuckDB memory cap, shrink guard, sensor interval and pre-image retention."""

    limits: DownloadLimits = field(default_factory=DownloadLimits)
    duckdb_memory_limit: str = "1GB"
    shrink_percent: int = 50
    sensor_interval_seconds: int = 5
    backup_retention_days: int = 30

    @property
    def shrink_ratio(self) -> float:
        """A replace leaving fewer than this fraction of the stored strike rows is refused."""
        return self.shrink_percent / 100

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HistorySettings:
        """Read `GEX_HISTORY_*` variables (see the README's settings table)."""
        env = os.environ if env is None else env
        memory = (env.get("GEX_HISTORY_DUCKDB_MEMORY_LIMIT") or cls.duckdb_memory_limit).strip()
        if not _MEMORY.match(memory):
            raise ValueError(
                f"GEX_HISTORY_DUCKDB_MEMORY_LIMIT must look like 1GB or 512MiB, got {memory!r}"
            )
        settings = cls(
            limits=DownloadLimits.from_env(env),
            duckdb_memory_limit=memory,
            shrink_percent=env_int(env, "GEX_HISTORY_SHRINK_PERCENT", cls.shrink_percent),
            sensor_interval_seconds=env_int(
                env, "GEX_HISTORY_SENSOR_INTERVAL_SECONDS", cls.sensor_interval_seconds
            ),
            backup_retention_days=env_int(
                env, "GEX_HISTORY_BACKUP_RETENTION_DAYS", cls.backup_retention_days
            ),
        )
        if not 0 <= settings.shrink_percent <= 100:
            raise ValueError(
                f"GEX_HISTORY_SHRINK_PERCENT must be 0..100, got {settings.shrink_percent}"
            )
        if settings.backup_retention_days < 0:
            raise ValueError("GEX_HISTORY_BACKUP_RETENTION_DAYS must be >= 0 (0 keeps every copy)")
        if settings.sensor_interval_seconds < 1:
            raise ValueError("GEX_HISTORY_SENSOR_INTERVAL_SECONDS must be >= 1")
        return settings
