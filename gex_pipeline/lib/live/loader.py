"""The live loader: loads sealed staging segments as they appear, outside Dagster runs.

Each cycle lists the sealed segments of every stream, loads them in one micro-batch per stream
(`microbatch.load_batch_isolating`, exactly once) through `lib.db.connection.connect` (so it holds
the writer lock while its connection is open), sets bad segments aside, moves the loaded ones to
`processed/`, and hands the per-partition figures to a `Publisher` at a bounded rate
(`ReportThrottle`). The connection stays open between cycles (opening the database costs more
than a small batch) until another writer or a reader announces that it waits
(`lib.db.writer.wanted_since`) or the loader has been idle for `IDLE_RELEASE_SECONDS`; it then
closes it and sits out one cycle so the waiter gets the file. A kill at any moment loses nothing acknowledged and duplicates nothing: the
segments stay sealed until their batch committed, and `loaded_segments` makes a repeat a no-op.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.db.writer import wanted_since
from gex_pipeline.lib.live.lake_sync import LakeSync
from gex_pipeline.lib.live.microbatch import (
    StreamLoad,
    load_batch_isolating,
    loaded_batches,
    setting,
    stored_stats,
)
from gex_pipeline.lib.live.throttle import ReportThrottle
from gex_pipeline.lib.metrics.loader import LoaderMetrics
from gex_pipeline.lib.staging import reader
from gex_pipeline.lib.staging.durable_fs import write_atomic
from gex_pipeline.lib.staging.layout import stream_dirs

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 3600.0
STATUS_EVERY_SECONDS = 2.0
# While nothing changes the status file is rewritten only this often (it tells the loader is alive).
STATUS_IDLE_EVERY_SECONDS = 60.0
# On start, figures of batches committed this recently are reported again (a kill may have
# come between a commit and its report).
RECOVER_SECONDS = 600
IDLE_RELEASE_SECONDS = 5.0
# A batch of at most this many segments loads on one DuckDB thread: its statements are too small
# to split, and handing them between threads costs CPU (~10 % of a session's loading); a backlog
# loads on every thread.
ONE_THREAD_SEGMENTS = 8


class Publisher(Protocol):
    """Where the loader's figures go (the Dagster instance in production, a list in tests)."""

    def events(self, stream: str, con: duckdb.DuckDBPyConnection, stats: list[Any]) -> list[Any]:
        """Build the events of released figures while the database is open (counts, previews)."""
        ...

    def publish(self, events: list[Any]) -> None:
        """Deliver events, after the database is closed."""
        ...


@dataclass
class LiveStream:
    """One staging stream: its SQL and the throttle of its reports."""

    load: StreamLoad[Any]
    throttle: ReportThrottle[Any, Any]

    @property
    def name(self) -> str:
        return self.load.stream


@dataclass
class StreamStatus:
    """What the loader last did for one stream (written to the status file)."""

    last_load_at: float | None = None
    segments_loaded: int = 0
    records_loaded: int = 0
    backlog: int = 0
    rejected: int = 0


@dataclass
class LiveLoader:
    """Loads every stream's sealed segments, one micro-batch per stream per cycle."""

    db_path: Path
    staging_dir: Path
    streams: Sequence[LiveStream]
    publisher: Publisher
    max_segments: int = 5000
    retention_days: int = 7
    run_id: str = field(default_factory=lambda: f"live-loader-{os.getpid()}")
    status_path: Path | None = None
    lake: LakeSync | None = None
    clock: Callable[[], float] = time.time
    status: dict[str, StreamStatus] = field(default_factory=dict)
    metrics: LoaderMetrics = field(default_factory=LoaderMetrics)
    _migrated: bool = False
    _purged_at: float = 0.0
    _status_written_at: float = 0.0
    _status_written: dict[str, dict[str, Any]] = field(default_factory=dict)
    _session: contextlib.ExitStack | None = None
    _con: duckdb.DuckDBPyConnection | None = None
    _held_since: float = 0.0
    _worked_at: float = 0.0
    _all_threads: int = 1
    _threads: int = 1

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The loader's open connection (opened, and the writer lock taken, when needed)."""
        if self._con is None:
            session = contextlib.ExitStack()
            self._con = session.enter_context(connect(self.db_path))
            self._session = session
            self._held_since = time.time()
            self._migrate(self._con)
            self._all_threads = self._threads = int(setting(self._con, "threads"))
        return self._con

    def _use_threads(self, con: duckdb.DuckDBPyConnection, segments: int) -> None:
        """One DuckDB thread for a batch of a few segments, every thread for a backlog."""
        wanted = 1 if segments <= ONE_THREAD_SEGMENTS else self._all_threads
        if wanted != self._threads:
            con.execute(f"SET threads = {wanted}")
            self._threads = wanted

    def close(self) -> None:
        """Close the connection: the database and the writer lock are free for others."""
        session, self._session, self._con = self._session, None, None
        if session is not None:
            session.close()

    def _waited_for(self) -> bool:
        return self._con is not None and wanted_since(self.db_path, self._held_since)

    def recover(self) -> None:
        """Queue the figures of batches committed in the last `RECOVER_SECONDS` for reporting."""
        con = self.connection()
        for stream in self.streams:
            rows = con.execute(
                "SELECT DISTINCT name FROM loaded_segments WHERE stream = $s"
                f" AND loaded_at >= now() - INTERVAL {RECOVER_SECONDS} SECOND",
                {"s": stream.name},
            ).fetchall()
            batches = loaded_batches(con, [r[0] for r in rows], stream.name)
            stream.throttle.add(stored_stats(con, stream.load, batches))

    def run_once(self) -> int:
        """One cycle over every stream; return how many segments were loaded.

        A cycle in which the connection is handed over to a waiter (or closed when idle) loads
        nothing; the next one opens it again, after the waiter.
        """
        if self._waited_for():
            self.close()
            return 0
        loaded = 0
        backlog = False
        events: list[Any] = []
        for stream in self.streams:
            dirs = stream_dirs(self.staging_dir, stream.name)
            segments = reader.list_sealed(dirs, 0, self.max_segments)
            state = self.status.setdefault(stream.name, StreamStatus())
            state.backlog = len(segments)
            backlog = backlog or bool(segments)
            if not segments and not stream.throttle.has_due(self.clock()):
                continue
            rejected: dict[str, str] = {}
            con = self.connection()
            if segments:
                self._worked_at = self.clock()
                self._use_threads(con, len(segments))
                batch = load_batch_isolating(
                    con, stream.load, segments, self.run_id, capture=self.lake is not None
                )
                if self.lake is not None:
                    self.lake.add(batch.report.new_rows)
                stream.throttle.add(batch.report.stats)
                rejected = batch.rejected
                state.last_load_at = self.clock()
                state.segments_loaded += len(batch.report.loaded_segments)
                state.records_loaded += batch.report.records
                self.metrics.batch(
                    stream.name, batch.report.loaded_segments, batch.report.records, len(rejected)
                )
            released = stream.throttle.take_due(self.clock())
            if released:
                events += self.publisher.events(stream.name, con, released)
            for name, reason in rejected.items():
                where = reader.reject_segment(dirs, name, reason)
                log.error("segment %s set aside in %s: %s", name, where, reason)
            state.rejected += len(rejected)
            reader.move_to_processed(dirs, [s.name for s in segments if s.name not in rejected])
            loaded += len(segments) - len(rejected)
        if events:
            self.publisher.publish(events)
        self._sync_lake(backlog)
        if self.clock() - self._worked_at >= IDLE_RELEASE_SECONDS:
            self.close()
        self._housekeeping()
        return loaded

    def _sync_lake(self, backlog: bool) -> None:
        """Mirror what was committed to the lake when due, merge small lake files, and seal a
        past partition when idle."""
        if self.lake is None:
            return
        if self.lake.pending:
            self.lake.flush_if_due(self.connection, self.clock())
        self.lake.roll_up_if_due(self.clock())
        if not backlog and not self.lake.pending:
            self.lake.seal_one_if_due(self.connection, self.clock())

    def flush(self) -> None:
        """Report every pending figure now (at shutdown)."""
        events: list[Any] = []
        if self.lake is not None and self.lake.pending:
            self.lake.flush_if_due(self.connection, self.clock(), force=True)
        pending = [s for s in self.streams if s.throttle.pending]
        if not pending:
            return
        con = self.connection()
        for stream in pending:
            events += self.publisher.events(
                stream.name, con, stream.throttle.take_all(self.clock())
            )
        self.publisher.publish(events)

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self._migrated:
            migrate(con)
            self._migrated = True

    def _housekeeping(self) -> None:
        now = self.clock()
        self.metrics.publish({n: s.backlog for n, s in self.status.items()}, now)
        if now - self._purged_at >= PURGE_EVERY_SECONDS:
            self._purged_at = now
            for stream in self.streams:
                dirs = stream_dirs(self.staging_dir, stream.name)
                purged = reader.purge_processed(dirs, self.retention_days)
                if purged:
                    log.info("purged %d processed %s segments", len(purged), stream.name)
        if self.status_path is not None and self._status_due(now):
            self._status_written_at = now
            self.write_status()

    def _status_due(self, now: float) -> bool:
        since = now - self._status_written_at
        if since >= STATUS_IDLE_EVERY_SECONDS:
            return True
        current = {name: vars(state) for name, state in self.status.items()}
        return since >= STATUS_EVERY_SECONDS and current != self._status_written

    def idle_for(self) -> float:
        """Seconds since the loader last loaded a segment."""
        return self.clock() - self._worked_at

    def write_status(self) -> None:
        """Write what the loader last did to `status_path` (atomic; read by health checks)."""
        if self.status_path is None:
            return
        streams = {name: dict(vars(state)) for name, state in self.status.items()}
        self._status_written = streams
        body: dict[str, Any] = {"updated_at": self.clock(), "pid": os.getpid(), "streams": streams}
        if self.lake is not None and self.lake.mirrored_since is not None:
            body["lake_mirrored_since"] = self.lake.mirrored_since.isoformat()
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.status_path, json.dumps(body, sort_keys=True).encode())
