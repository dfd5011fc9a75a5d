"""The single-writer rule of `gex_data.db`, enforced by the code.

DuckDB admits one read-write process per file and fails the others ("Could not set lock on
file"). Every process that writes the database (the live loader, import/backfill/export/check
runs, restore, backup) opens it through `lib.db.connection.connect`, which first takes the
inter-process writer lock of this module: an exclusive `flock` on `<db>.writer.lock` beside the
file. Waiters poll for it (and say so in the log) instead of failing; a holder keeps it only
while its connection is open, so writers hold the file for short transactions and take turns.
Connections opened again by a thread that already holds the lock re-enter it; other threads of
the same process wait like other processes.

A long-lived holder (the live loader keeps its connection between micro-batches) yields to
others: every waiter, writer or reader, touches `<db>.writer.wanted` while it waits, and the
holder checks `wanted_since()` between batches and closes its connection when someone waits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Dagster pool of every DuckDB-writing asset (admission control; the lock below is the guarantee).
DUCKDB_WRITER_POOL = "duckdb_writer"
LOCK_SUFFIX = ".writer.lock"
WANTED_SUFFIX = ".writer.wanted"
POLL_SECONDS = 0.05
DEFAULT_TIMEOUT_SECONDS = 3600.0

log = logging.getLogger(__name__)

_held = threading.local()
_process_guard = threading.Lock()


class WriterLockTimeout(TimeoutError):
    """The writer lock stayed taken for longer than the caller was willing to wait."""


def lock_path(db_path: Path) -> Path:
    """The lock file guarding writes to `db_path`."""
    return db_path.with_name(db_path.name + LOCK_SUFFIX)


def wanted_path(db_path: Path) -> Path:
    """The marker waiters touch while they wait for the database."""
    return db_path.with_name(db_path.name + WANTED_SUFFIX)


def announce_waiting(db_path: Path) -> None:
    """Tell a long-lived holder that this process waits for the database."""
    marker = wanted_path(db_path)
    try:
        os.utime(marker)
    except FileNotFoundError:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def wanted_since(db_path: Path, since: float) -> bool:
    """Whether a waiter announced itself after `since` (epoch seconds)."""
    try:
        return wanted_path(db_path).stat().st_mtime > since
    except FileNotFoundError:
        return False


def _depths() -> dict[str, int]:
    if not hasattr(_held, "depths"):
        _held.depths = {}
    return _held.depths


@contextmanager
def writer_lock(db_path: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the writer lock of `db_path` for the block, waiting up to `timeout` seconds."""
    key = str(db_path.resolve())
    depths = _depths()
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, db_path, timeout)
        depths[key] = 1
        try:
            yield
        finally:
            depths.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, db_path: Path, timeout: float) -> None:
    """Take the flock on `fd`, polling; log once when it has to wait."""
    started = time.monotonic()
    waited_logged = False
    while True:
        # One thread of this process at a time competes for the flock: flock locks belong to
        # open file descriptions, so two threads with two descriptors exclude each other too.
        with _process_guard:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if waited_logged:
                    log.info("writer lock of %s taken after %.1fs", db_path.name, _since(started))
                return
            except BlockingIOError:
                pass
        if _since(started) >= timeout:
            raise WriterLockTimeout(
                f"another process held the writer lock of {db_path} for more than {timeout:.0f}s"
            )
        announce_waiting(db_path)
        if not waited_logged:
            log.info("waiting for the writer lock of %s (another writer is busy)", db_path.name)
            waited_logged = True
        time.sleep(POLL_SECONDS)


def _since(started: float) -> float:
    return time.monotonic() - started
