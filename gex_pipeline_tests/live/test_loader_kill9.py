"""kill -9 of the live loader at any moment loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.lib.db.connection import connect_reader
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

pytestmark = pytest.mark.e2e

SEGMENTS = 60
RECORDS_PER_SEGMENT = 20
KILLS = 5


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gex_pipeline.cli", "live-loader"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_killed_loader_restarts_to_every_record_exactly_once(
    data_dir: Path, tmp_path: Path, gex_staging: GexStagingTree
) -> None:
    for segment in range(SEGMENTS):
        gex_staging.seal(
            [
                gex_staging.record(
                    "SPX" if i % 2 else "NQ_NDX",
                    timestamp=GEX_BASE_MS + (segment * RECORDS_PER_SEGMENT + i) * 1000,
                )
                for i in range(RECORDS_PER_SEGMENT)
            ]
        )
    # Dagster creates its SQLite index shard once, not atomically (a file without its tables is
    # taken as created): a kill then is Dagster's first start, not the loader's, so it comes first.
    dg.DagsterInstance.get().dispose()
    env = {**os.environ, "GEX_LIVE_MAX_SEGMENTS_PER_BATCH": "3", "GEX_LIVE_POLL_MS": "50"}
    rng = random.Random(7)
    log = tmp_path / "loader.log"
    for _ in range(KILLS):
        proc = _start(env, log)
        time.sleep(rng.uniform(1.5, 3.0))  # interpreter start-up, then somewhere in a batch
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    proc = _start(env, log)
    deadline = time.monotonic() + 120
    while any(gex_staging.dirs.sealed.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    # The lake holds every row (an idle loader may already have sealed the past date out of
    # gex_data.db, which then keeps only the bookkeeping).
    with connect_lake(data_dir) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (ticker, endpoint, timestamp)) FROM gex_snapshots"
        ).fetchall()[0]
        strikes = con.execute("SELECT count(*) FROM gex_strikes").fetchall()[0][0]
    with connect_reader(data_dir / "gex_data.db") as con:
        loaded = con.execute("SELECT count(*) FROM loaded_segments").fetchall()[0][0]
    expected = SEGMENTS * RECORDS_PER_SEGMENT
    assert (total, distinct, strikes) == (expected, expected, expected * 3)
    assert loaded == SEGMENTS
    assert list(gex_staging.dirs.sealed.iterdir()) == []
    assert len(list(gex_staging.dirs.processed.iterdir())) == SEGMENTS
