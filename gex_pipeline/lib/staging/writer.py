"""Durable, group-committed append-only segments of the staging area (see `docs/staging.md`).

One `SegmentWriter` per stream and per process. Requests enqueue their encoded lines and await a
future; a single flusher task takes everything queued as one batch, performs one `write` +
`fsync` in a worker thread and resolves every future of the batch, so concurrent requests share
the cost of one fsync.
A future resolves only after an fsync issued after its bytes were written: that is the
acknowledgement. Up to `parallel_syncs` batches may be waiting for their fsync at once.

Each open segment (`open/<pid>-<token>.jsonl.open`) is `flock`ed by its owner for as long as it is
written; a segment whose lock can be taken belongs to a dead process and is recovered by
`recover_orphans`: its torn tail is cut off and the rest sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gex_pipeline.lib.staging.durable_fs import flocked, fsync_dir, write_atomic
from gex_pipeline.lib.staging.layout import OPEN_SUFFIX, StreamDirs, seq_name, seq_of

logger = logging.getLogger(__name__)


class Overloaded(Exception):
    """The writer's bounded queue is full: the caller should answer 503 with Retry-After."""


class StagingUnavailable(Exception):
    """The bytes could not be made durable (I/O error) or the writer is shutting down."""


def _read_seq(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _highest_sealed(dirs: StreamDirs) -> int:
    seqs = (seq_of(entry.name) for entry in os.scandir(dirs.sealed))
    return max((s for s in seqs if s is not None), default=0)


def seal_segment(dirs: StreamDirs, path: Path) -> Path:
    """Rename the (already fsync'ed) open segment `path` into `sealed/` under the seal lock.

    The sequence number is strictly greater than every one handed out before, across processes,
    so sealed names sort in the order they became visible. Returns the sealed path.
    """
    with flocked(dirs.seal_lock):
        seq = max(time.time_ns(), _read_seq(dirs.seal_seq) + 1, _highest_sealed(dirs) + 1)
        write_atomic(dirs.seal_seq, f"{seq}\n".encode())
        target = dirs.sealed / seq_name(seq)
        os.rename(path, target)
        fsync_dir(dirs.sealed)
        fsync_dir(dirs.open)
    return target


def valid_prefix_length(data: bytes) -> int:
    """Length of the longest prefix of `data` made of complete lines that each hold a JSON object.

    Everything after the first incomplete or invalid line is a torn tail: bytes after it cannot have
    been acknowledged, because an fsync covering them would also have covered the invalid line.
    """
    end = 0
    while end < len(data):
        newline = data.find(b"\n", end)
        if newline < 0:
            break
        try:
            value = json.loads(data[end:newline])
        except ValueError:
            break
        if not isinstance(value, dict):
            break
        end = newline + 1
    return end


def recover_orphans(dirs: StreamDirs) -> list[Path]:
    """Seal the open segments of dead processes after cutting their torn tails; return sealed paths.

    Segments still locked by a live writer are left alone; empty or fully torn ones are deleted.
    """
    sealed: list[Path] = []
    for path in sorted(dirs.open.glob(f"*{OPEN_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    continue
            except FileNotFoundError:
                continue
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read()
            keep = valid_prefix_length(data)
            if keep < len(data):
                os.ftruncate(fd, keep)
            if keep == 0:
                path.unlink()
                fsync_dir(dirs.open)
                continue
            os.fsync(fd)
            sealed.append(seal_segment(dirs, path))
        finally:
            os.close(fd)
    return sealed


@dataclass
class WriterStats:
    """Counters of one writer (this process only)."""

    records: int = 0
    bytes: int = 0
    batches: int = 0
    sealed: int = 0


class _Segment:
    """The open segment this process appends to, locked for as long as it is open."""

    def __init__(self, dirs: StreamDirs) -> None:
        self.path = dirs.open / f"{os.getpid()}-{secrets.token_hex(8)}{OPEN_SUFFIX}"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fsync_dir(dirs.open)
        self.size = 0
        self.opened_at = time.monotonic()


class SegmentWriter:
    """Group-commit appender of newline-terminated JSON lines to one staging stream.

    Batches are appended in order under a lock; their fsyncs may overlap (up to `parallel_syncs`),
    which is safe because an fsync issued after a write returned covers that write.
    """

    def __init__(
        self,
        dirs: StreamDirs,
        *,
        seal_bytes: int = 8 * 2**20,
        seal_age_s: float = 2.0,
        max_pending: int = 10_000,
        fsync: bool = True,
        parallel_syncs: int = 3,
    ) -> None:
        self.dirs = dirs
        self.seal_bytes = seal_bytes
        self.seal_age_s = seal_age_s
        self.max_pending = max_pending
        self.fsync = fsync
        self.parallel_syncs = parallel_syncs
        self.stats = WriterStats()
        self._queue: list[tuple[bytes, int, asyncio.Future[None]]] = []
        self._queued = 0
        self._in_flight = 0
        self._commits = 0
        self._commit_tasks: set[asyncio.Task[None]] = set()
        self._segment: _Segment | None = None
        self._write_lock = threading.Lock()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._sealing: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The stream name (`gex`, `uw`)."""
        return self.dirs.root.name

    @property
    def running(self) -> bool:
        """True between `start` and `aclose` while the flusher task is alive."""
        return self._task is not None and not self._task.done() and not self._closing

    @property
    def pending(self) -> int:
        """Records queued or being written, not yet acknowledged."""
        return self._queued + self._in_flight

    async def start(self) -> list[Path]:
        """Create the directories, recover orphaned segments and start the flusher."""
        self.dirs.ensure()
        recovered = await asyncio.to_thread(recover_orphans, self.dirs)
        self._task = asyncio.create_task(self._flush_loop(), name=f"staging-{self.name}")
        return recovered

    async def append(self, lines: bytes, count: int = 1) -> None:
        """Stage `lines` (`count` records, each ending with a newline); return once durable.

        Raises `Overloaded` when the queue is full and `StagingUnavailable` when the bytes could not
        be written; in both cases nothing of `lines` is acknowledged.
        """
        if self._closing or self._task is None:
            raise StagingUnavailable("staging writer is not running")
        pending = self.pending
        if pending + count > self.max_pending:
            raise Overloaded(f"{pending} records waiting for the disk")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((lines, count, future))
        self._queued += count
        self._wake.set()
        await future

    async def aclose(self) -> None:
        """Write what is queued, seal the open segment and stop the flusher."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._rotate()
        if self._sealing is not None:
            await self._sealing

    async def _flush_loop(self) -> None:
        while True:
            self._wake.clear()
            if self._seal_due() and not self._commits:
                await self._rotate()
                continue
            if self._queue and self._commits < self.parallel_syncs and not self._seal_due():
                self._start_commit()
                continue
            if self._closing and not self._queue and not self._commits:
                return
            timeout = None
            if self._segment is not None and not self._commits:
                timeout = max(0.0, self._segment.opened_at + self.seal_age_s - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _start_commit(self) -> None:
        batch, self._queue = self._queue, []
        count, self._queued = self._queued, 0
        self._in_flight += count
        self._commits += 1
        task = asyncio.create_task(self._commit(batch, count))
        self._commit_tasks.add(task)
        task.add_done_callback(self._commit_tasks.discard)

    async def _commit(
        self, batch: list[tuple[bytes, int, asyncio.Future[None]]], count: int
    ) -> None:
        data = b"".join(lines for lines, _, _ in batch)
        try:
            await asyncio.to_thread(self._write, data)
        except OSError as exc:
            error = StagingUnavailable(f"staging write failed: {exc.strerror or exc}")
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            self.stats.records += count
            self.stats.bytes += len(data)
            self.stats.batches += 1
            for _, _, future in batch:
                if not future.done():
                    future.set_result(None)
        finally:
            self._in_flight -= count
            self._commits -= 1
            self._wake.set()

    def _seal_due(self) -> bool:
        segment = self._segment
        return segment is not None and (
            segment.size >= self.seal_bytes
            or time.monotonic() - segment.opened_at >= self.seal_age_s
        )

    async def _rotate(self) -> None:
        """Hand the open segment to a background seal; the next write opens a new segment.

        Called only with no commit in flight. At most one seal runs at a time: a slow seal holds
        the flusher back (and so fills the bounded queue) instead of piling up unsealed segments.
        """
        if self._sealing is not None:
            await self._sealing
            self._sealing = None
        segment, self._segment = self._segment, None
        if segment is not None:
            self._sealing = asyncio.create_task(self._seal_logged(segment))

    async def _seal_logged(self, segment: _Segment) -> None:
        """Seal in a worker thread; a failure leaves the segment to recovery and is logged."""
        try:
            await asyncio.to_thread(self._seal, segment)
        except OSError:
            logger.exception(
                "sealing a %s segment failed; it is recovered at next start", self.name
            )

    def _write(self, data: bytes) -> None:
        """Append `data` to the open segment in order, then make it durable (worker thread)."""
        with self._write_lock:
            segment = self._segment
            if segment is None:
                segment = self._segment = _Segment(self.dirs)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(segment.fd, view)
                    view = view[written:]
            except OSError:
                self._drop_partial(segment)
                raise
            segment.size += len(data)
        if self.fsync:
            os.fdatasync(segment.fd)

    def _drop_partial(self, segment: _Segment) -> None:
        """Cut a failed write off the segment; abandon the segment to recovery if that fails."""
        try:
            os.ftruncate(segment.fd, segment.size)
        except OSError:
            os.close(segment.fd)
            self._segment = None

    def _seal(self, segment: _Segment) -> None:
        """fsync `segment`, rename it into `sealed/` and release it (worker thread)."""
        try:
            if segment.size == 0:
                segment.path.unlink()
                return
            os.fsync(segment.fd)
            seal_segment(self.dirs, segment.path)
            self.stats.sealed += 1
        finally:
            os.close(segment.fd)
