"""Free-disk guard: refuse new work before the disk is full instead of failing halfway."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

# Seconds a client is told to wait when the disk is short: space comes back by retention or an
# operator, not within a second.
DISK_RETRY_AFTER_S = 60


def free_mb(path: Path) -> int:
    """Free MiB on the filesystem holding `path` (its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free // 2**20


class DiskGuard:
    """Says when free space under `path` is below `min_free_mb`, measuring at most every `interval_s`."""

    def __init__(
        self,
        path: Path,
        min_free_mb: int,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.min_free_mb = min_free_mb
        self.interval_s = interval_s
        self.clock = clock
        self._checked: float | None = None
        self._shortage: str | None = None

    def shortage(self) -> str | None:
        """None when there is room; else why not (free and required MiB)."""
        now = self.clock()
        if self._checked is None or now - self._checked >= self.interval_s:
            free = free_mb(self.path)
            self._shortage = (
                f"free disk {free} MiB below {self.min_free_mb} MiB"
                if free < self.min_free_mb
                else None
            )
            self._checked = now
        return self._shortage
