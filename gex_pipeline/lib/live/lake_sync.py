"""The live loader's side of the lake: mirror the open partitions, seal the closed ones.

Each micro-batch hands over the rows it inserted once it committed (`add`); between batches,
with its connection to `gex_data.db` open, the loader
- commits those rows to the lake at most every `flush_seconds` (`mirror.mirror` with the
  buffer): a local lake, whose only writer of open partitions the loader is, gets them appended
  (one commit per table, no query: a pass costs the Delta writes only); a lake several hosts
  share gets them conflict-checked and arbitrated between hosts (`lib/lake/mirror.py`). The
  first pass after a start, or after a failed pass or an overflowing buffer, compares every open
  partition with the lake instead (by natural key), so a kill between a commit and a pass loses
  nothing and duplicates nothing;
- every `ROLLUP_SECONDS`, merges the small files its passes appended to a partition into files of
  up to `ROLLUP_TARGET_BYTES` (delta-rs `optimize.compact`), so a reader of today's rows opens a
  few files, not one per pass: one commit per table and date for all of that date's partitions
  that are due (a Delta commit costs more than merging a partition's few hundred KB);
- when it has no backlog, seals one open partition of a past date (America/New_York) per cycle,
  so it never stops loading for longer than one partition.
A failed pass, roll-up or seal is logged and tried again on a later cycle; loading goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import trading_date_of
from gex_pipeline.lib.lake.mirror import MirrorReport, mirror
from gex_pipeline.lib.lake.seal import Sealed, seal, sealable
from gex_pipeline.lib.lake.tables import (
    Lake,
    Partition,
    TableCache,
    partitions_filters,
    small_files,
)
from gex_pipeline.lib.lake.writes import commit_info, post_commit

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

log = logging.getLogger(__name__)

# Gives the loader's connection to `gex_data.db` (opening it, and taking the writer lock, if closed).
Connect = Callable[[], "duckdb.DuckDBPyConnection"]

SEAL_CHECK_SECONDS = 60.0
# How often a pass runs unless `GEX_LAKE_FLUSH_SECONDS` says: a pass to object storage costs a
# few tenths of a second of round trips more than a local one, so it runs twice as often to keep
# today's rows readable within the same few seconds of their POST.
FLUSH_SECONDS = 2.0
OBJECT_STORE_FLUSH_SECONDS = 1.0
ROLLUP_SECONDS = 60.0
ROLLUP_MIN_FILES = 20
ROLLUP_TARGET_BYTES = 4 * 1024**2
ROLLUP_WRITER = "live-loader-rollup"
# Rows held for the lake beyond this (the lake unreachable for long) are dropped: the next pass
# compares every open partition instead.
MAX_BUFFERED_ROWS = 2_000_000


def default_flush_seconds(lake: Lake) -> float:
    """The pass interval of a loader of `lake` unless `GEX_LAKE_FLUSH_SECONDS` sets one."""
    return FLUSH_SECONDS if lake.local_path("") is not None else OBJECT_STORE_FLUSH_SECONDS


@dataclass
class LakeSync:
    """Mirror, roll-up and seal state of one live loader (see the module docstring)."""

    lake: Lake
    flush_seconds: float = FLUSH_SECONDS
    work_dir: Path | None = None
    cache: TableCache = field(init=False)
    _buffer: dict[str, list[pa.Table]] = field(default_factory=dict)
    _buffered_rows: int = 0
    _full_pass: bool = True
    _since: datetime | None = None
    _flushed_at: float = float("-inf")
    _touched: set[tuple[str, Partition]] = field(default_factory=set)
    _rolled_at: float = float("-inf")
    _seal_checked_at: float = float("-inf")

    def __post_init__(self) -> None:
        self.cache = TableCache(self.lake)

    def add(self, rows: Mapping[str, list[pa.Table]]) -> None:
        """Keep the rows a committed batch inserted, by table, for the next pass."""
        for name, pieces in rows.items():
            self._buffer.setdefault(name, []).extend(pieces)
            self._buffered_rows += sum(p.num_rows for p in pieces)
        if self._buffered_rows > MAX_BUFFERED_ROWS:
            log.warning("%d rows wait for the lake: the next pass compares whole partitions",
                        self._buffered_rows)  # fmt: skip
            self._drop_buffer()
            self._full_pass = True

    def _drop_buffer(self) -> None:
        self._buffer.clear()
        self._buffered_rows = 0

    @property
    def mirrored_since(self) -> datetime | None:
        """Start of the last mirror pass: everything committed before it is in the lake."""
        return self._since

    @property
    def pending(self) -> bool:
        """Whether committed rows still wait for a mirror pass."""
        return self._full_pass or bool(self._buffer)

    def flush_if_due(
        self, connect: Connect, now: float, *, force: bool = False
    ) -> MirrorReport | None:
        """Run a pass when rows wait and `flush_seconds` passed by `now` (or `force`);
        `connect` gives the connection to `gex_data.db`, asked only when a pass runs."""
        if not self.pending or (not force and now - self._flushed_at < self.flush_seconds):
            return None
        con = connect()
        started = datetime.now(UTC)
        self._flushed_at = now
        buffer = None if self._full_pass else self._buffer
        try:
            report = mirror(con, self.lake, since=None, cache=self.cache, buffer=buffer)
        except Exception:
            log.exception("mirroring the open partitions to the lake failed; retrying later")
            # Some tables of the pass may have committed: the next pass compares whole partitions.
            self._drop_buffer()
            self._full_pass = True
            return None
        self._drop_buffer()
        self._full_pass = False
        self._since = started
        self._touched |= report.touched
        return report

    def roll_up_if_due(self, now: float) -> int:
        """Merge the small files of the partitions mirrored into since the last roll-up, once
        `ROLLUP_SECONDS` passed, in one commit per table and date; return how many partitions
        were compacted."""
        if not self._touched or now - self._rolled_at < ROLLUP_SECONDS:
            return 0
        self._rolled_at = now
        touched, self._touched = self._touched, set()
        groups: dict[tuple[str, date], list[Partition]] = {}
        for name, partition in touched:
            groups.setdefault((name, partition.trade_date), []).append(partition)
        done = 0
        for (name, day), partitions in sorted(groups.items()):
            try:
                done += self._roll_up(name, sorted(partitions))
            except Exception:
                log.exception("merging the small files of %s %s failed", name, day)
                self._touched.update((name, p) for p in partitions)
        return done

    def _roll_up(self, name: str, partitions: list[Partition]) -> int:
        """Compact those of `partitions` (one date) holding `ROLLUP_MIN_FILES` small files, in one
        commit; the others are left as they are."""
        table = self.cache.get(name)
        if table is None:
            return 0
        small = small_files(table, ROLLUP_TARGET_BYTES)
        due = [p for p in partitions if small.get(p, 0) >= ROLLUP_MIN_FILES]
        if not due:
            return 0
        table.optimize.compact(
            partition_filters=partitions_filters(due),  # type: ignore[arg-type]
            target_size=ROLLUP_TARGET_BYTES,
            commit_properties=commit_info(ROLLUP_WRITER, due),  # type: ignore[arg-type]
            post_commithook_properties=post_commit(),  # type: ignore[arg-type]
        )
        return len(due)

    def seal_one_if_due(self, connect: Connect, now: float) -> Sealed | None:
        """Seal the oldest open partition of a date before `now`'s (America/New_York), checked
        every `SEAL_CHECK_SECONDS` (`connect` is asked only then: an idle loader keeps the
        database closed)."""
        if now - self._seal_checked_at < SEAL_CHECK_SECONDS:
            return None
        today = trading_date_of(int(now * 1000))
        try:
            con = connect()
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
