"""The live loader's side of the lake: mirror the open partitions, seal the closed ones.

Between micro-batches, with its connection to `gex_data.db` open, the loader
- mirrors to the lake what it committed since its previous pass, at most every `flush_seconds`
  (the first pass after a start compares every open partition: a kill between a commit and a
  pass loses nothing and duplicates nothing);
- when it has no backlog, seals one open partition of a past date (America/New_York) per cycle,
  so it never stops loading for longer than one partition.
A failed pass or seal is logged and tried again on a later cycle; loading goes on meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import trading_date_of
from gex_pipeline.lib.lake.mirror import MirrorReport, mirror
from gex_pipeline.lib.lake.seal import Sealed, seal, sealable
from gex_pipeline.lib.lake.tables import Lake

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

SEAL_CHECK_SECONDS = 60.0


@dataclass
class LakeSync:
    """Mirror and seal state of one live loader (see the module docstring)."""

    lake: Lake
    flush_seconds: float = 2.0
    work_dir: Path | None = None
    _since: datetime | None = None
    _dirty: bool = True
    _flushed_at: float = float("-inf")
    _seal_checked_at: float = float("-inf")

    def changed(self) -> None:
        """Note that a batch committed rows the lake does not have yet."""
        self._dirty = True

    @property
    def mirrored_since(self) -> datetime | None:
        """Start of the last mirror pass: everything committed before it is in the lake."""
        return self._since

    @property
    def pending(self) -> bool:
        """Whether committed rows still wait for a mirror pass."""
        return self._dirty

    def flush_if_due(
        self, con: duckdb.DuckDBPyConnection, now: float, *, force: bool = False
    ) -> MirrorReport | None:
        """Run a mirror pass when rows wait and `flush_seconds` passed by `now` (or `force`)."""
        if not self._dirty or (not force and now - self._flushed_at < self.flush_seconds):
            return None
        started = datetime.now(UTC)
        try:
            report = mirror(con, self.lake, since=self._since)
        except Exception:
            log.exception("mirroring the open partitions to the lake failed; retrying later")
            self._flushed_at = now
            return None
        self._since, self._dirty, self._flushed_at = started, False, now
        return report

    def seal_one_if_due(self, con: duckdb.DuckDBPyConnection, now: float) -> Sealed | None:
        """Seal the oldest open partition of a date before `now`'s (America/New_York), checked
        every `SEAL_CHECK_SECONDS`."""
        if now - self._seal_checked_at < SEAL_CHECK_SECONDS:
            return None
        today = trading_date_of(int(now * 1000))
        try:
            due = sealable(con, today)
            if not due:
                self._seal_checked_at = now
                return None
            done = seal(con, self.lake, due[0], work_dir=self.work_dir)
        except Exception:
            log.exception("sealing an open partition into the lake failed; retrying later")
            self._seal_checked_at = now
            return None
        log.info(
            "sealed %s into the lake (%d rows mirrored, %d deleted from gex_data.db)",
            done.partition,
            done.mirrored_rows,
            done.hot_rows_deleted,
        )
        if len(due) == 1:
            self._seal_checked_at = now
        return done
