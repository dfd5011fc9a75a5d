"""A load that runs out of disk stops cleanly: nothing half-written, the segments stay sealed, and
the same load succeeds once there is room again (the file-size limit stands in for a full disk)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.settings import Settings
from gex_pipeline_tests.ops.conftest import DATA_TABLES
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

LOAD = """
import sys
from pathlib import Path
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline.lib.staging.layout import seq_of
paths = [Path(p) for p in sys.argv[2:]]
with connect(Path(sys.argv[1])) as con:
    load_segments(con, [Segment(seq_of(p.name), p) for p in paths])
print("loaded")
"""


def all_rows(db: Path) -> dict[str, list[tuple]]:
    """Every row of the data tables of the DuckDB file `db` (the loader's open partitions)."""
    with connect(db, read_only=True) as con:
        return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in DATA_TABLES}


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _load(db: Path, segments: list[Path], limit: int | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LOAD, str(db), *map(str, segments)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size(limit) if limit else None,
    )


def test_a_load_that_runs_out_of_disk_changes_nothing_and_succeeds_later(
    settings: Settings,
) -> None:
    db = settings.paths.duckdb_path
    gex = GexStagingTree(settings.paths.staging_dir)
    first = gex.seal([gex.record("SPX", "gex_zero", GEX_BASE_MS)])
    with connect(db) as con:
        migrate(con)
    assert _load(db, [first.path], None).returncode == 0
    before = all_rows(db)
    strikes = [[6000.0 + i, 1.5 * i, 2.5, [1.0, 2.0, 3.0, 4.0, 5.0]] for i in range(300)]
    big = [
        gex.seal(
            [
                gex.record(
                    "SPX", "gex_zero", GEX_BASE_MS + (s * 100 + i + 1) * 1000, strikes=strikes
                )
                for i in range(100)
            ]
        )
        for s in range(5)
    ]
    size = db.stat().st_size
    failed = _load(db, [b.path for b in big], size + 256 * 1024)
    assert failed.returncode != 0, failed.stdout
    assert "loaded" not in failed.stdout
    assert "File too large" in failed.stderr or "IO Error" in failed.stderr, failed.stderr[-2000:]
    assert all_rows(db) == before  # nothing of the failed batch is visible
    assert all(b.path.exists() for b in big)  # still sealed: the load will be retried
    assert _load(db, [b.path for b in big], None).returncode == 0
    after = all_rows(db)
    assert len(after["gex_snapshots"]) == len(before["gex_snapshots"]) + 500
    assert len(after["gex_strikes"]) == len(before["gex_strikes"]) + 500 * 300
