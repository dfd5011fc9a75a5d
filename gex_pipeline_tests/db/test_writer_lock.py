"""The inter-process writer lock: writers of gex_data.db wait their turn instead of failing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.writer import WriterLockTimeout, lock_path, writer_lock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gex_pipeline.lib.db.connection import connect
    with connect(Path(sys.argv[1])) as con:
        con.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _start_holder(db: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_second_writer_process_waits_for_the_first_instead_of_failing(tmp_path: Path) -> None:
    db = tmp_path / "gex_data.db"
    holder = _start_holder(db, 1.0)
    try:
        started = time.monotonic()
        with connect(db) as con:
            waited = time.monotonic() - started
            con.execute("INSERT INTO t VALUES (2)")
            rows = con.execute("SELECT v FROM t ORDER BY v").fetchall()
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
    assert rows == [(1,), (2,)]
    assert waited >= 0.5  # it waited for the holder to close, then got the file


def test_writer_lock_gives_up_after_its_timeout_with_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "gex_data.db"
    holder = _start_holder(db, 3.0)
    try:
        with pytest.raises(WriterLockTimeout, match="writer lock"), writer_lock(db, timeout=0.3):
            pass
    finally:
        holder.wait(timeout=30)


def test_the_thread_holding_the_lock_can_open_the_database_again(tmp_path: Path) -> None:
    db = tmp_path / "gex_data.db"
    with connect(db) as outer, connect(db) as inner:
        inner.execute("CREATE TABLE t (v INTEGER)")
        outer.execute("INSERT INTO t VALUES (1)")
    assert lock_path(db).exists()
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchall() == [(1,)]


def test_another_thread_waits_for_the_lock_held_by_this_one(tmp_path: Path) -> None:
    db = tmp_path / "gex_data.db"
    order: list[str] = []

    def other() -> None:
        with writer_lock(db):
            order.append("other")

    with writer_lock(db):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "other"]


def test_read_only_opens_do_not_take_the_writer_lock(tmp_path: Path) -> None:
    db = tmp_path / "gex_data.db"
    with connect(db) as con:
        con.execute("CREATE TABLE t (v INTEGER)")
    with writer_lock(db), connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
