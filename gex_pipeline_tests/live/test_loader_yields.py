"""The live loader keeps its connection between batches but hands the database over to a reader
or another writer that waits for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gex_pipeline.lib.live.loader import LiveLoader
from gex_pipeline_tests.support.staging_trees import GexStagingTree

OPENER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gex_pipeline.lib.db.connection import connect, connect_reader
    path = Path(sys.argv[1])
    opener = connect_reader(path, wait_seconds=30) if sys.argv[2] == "reader" else connect(path)
    with opener as con:
        print(con.execute("SELECT count(*) FROM gex_snapshots").fetchall()[0][0], flush=True)
    """
)


@pytest.mark.parametrize("role", ["reader", "writer"])
def test_a_waiting_process_gets_the_database_while_the_loader_keeps_running(
    role: str, data_dir: Path, loader: LiveLoader, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record()])
    loader.run_once()
    assert loader._con is not None  # held between batches
    other = subprocess.Popen(
        [sys.executable, "-c", OPENER, str(data_dir / "gex_data.db"), role],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while other.poll() is None and time.monotonic() < deadline:
        loader.run_once()
        time.sleep(0.1)
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0
    assert out.strip() == "1"
    gex_staging.seal([gex_staging.record(timestamp=gex_staging.record()["timestamp"] + 1000)])
    assert loader.run_once() == 1  # and the loader carries on after it
