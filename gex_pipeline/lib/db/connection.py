"""Open DuckDB connections that are always closed; writers take the writer lock first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.db.writer import writer_lock

if TYPE_CHECKING:
    import duckdb


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB file at `path` and close it in `finally`.

    A read-write open first takes the inter-process writer lock (`lib.db.writer`), waiting for the
    writer that holds it, and keeps it until the connection is closed.
    """
    if read_only:
        with _open(path, read_only=True) as con:
            yield con
        return
    with writer_lock(path), _open(path, read_only=False) as con:
        yield con


@contextmanager
def _open(path: Path, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    import duckdb

    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def connect_reader(
    path: Path, wait_seconds: float = 10.0, poll_seconds: float = 0.05
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for readers while the pipeline runs, closed in `finally`.

    DuckDB refuses a read-only open while a writer holds the file; writers hold it only for
    short transactions, so the open is retried for up to `wait_seconds`. Keep the connection
    short-lived: while a reader holds the file, writers wait for it.
    """
    import duckdb

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(poll_seconds)
    try:
        yield con
    finally:
        con.close()
