"""A day-file import killed mid-transaction leaves the old slice intact; a retry completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline_tests.support.figures import recomputed_figures, recorded_figures

DAY = date(2025, 11, 14)
SLICE = "ticker = 'SPX' AND endpoint = 'gex_zero' AND trade_date = DATE '2025-11-14'"
CHILD = """
import sys
from datetime import date
from pathlib import Path
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.history.day_import import import_day_file
with connect(Path(sys.argv[1])) as con:
    import_day_file(con, Path(sys.argv[2]), ticker="SPX", endpoint="gex_zero",
                    trade_date=date(2025, 11, 14), backups_dir=Path(sys.argv[3]))
print("committed", flush=True)
"""


def _checksum(db: Path) -> tuple:
    with connect(db) as con:
        return con.execute(
            "SELECT count(*), sum(hash(timestamp, strike, gamma, oi_gamma)) "
            f"FROM gex_strikes WHERE {SLICE}"
        ).fetchone()


def _import(db: Path, path: Path, backups: Path) -> None:
    with connect(db) as con:
        migrate(con)
        import_day_file(
            con, path, ticker="SPX", endpoint="gex_zero", trade_date=DAY, backups_dir=backups
        )


@pytest.mark.e2e
def test_killed_import_keeps_the_old_slice_and_a_retry_completes(tmp_path):
    db, backups = tmp_path / "gex.db", tmp_path / "backups"
    old = make_day_file(tmp_path / "old", "2025-11-14", "SPX", snapshots=3000, seed=1)
    new = make_day_file(tmp_path / "new", "2025-11-14", "SPX", snapshots=3000, seed=2)
    _import(db, old.path, backups)
    before = _checksum(db)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(new.path), str(backups)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(backups.glob("SPX/gex_zero/*.strikes.parquet")):
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        assert time.monotonic() < deadline, "the child never reached the replace"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert b"committed" not in out
    assert _checksum(db) == before
    _assert_figures_hold(db)
    _import(db, new.path, backups)
    after = _checksum(db)
    assert after != before
    assert after[0] == 3000 * 100
    _assert_figures_hold(db)


def _assert_figures_hold(db: Path) -> None:
    with connect(db) as con:
        assert recorded_figures(con) == recomputed_figures(con)
