"""Notebooks read Parquet (through the read-only views file) while the pipeline writes DuckDB."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.db.views import STRIKES_VIEW, ensure_reader_views
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)

# Holds a connection for as long as its stdin stays open; answers "count" with the view's rows.
HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "count":
        print(con.execute("SELECT count(*) FROM gex_strikes").fetchall()[0][0], flush=True)
con.close()
"""


@pytest.fixture
def paths(data_dir: Path) -> dict[str, Path]:
    return {
        "db": data_dir / "gex_data.db",
        "parquet": data_dir / "parquet" / "gexbot",
        "views": data_dir / "gex_views.duckdb",
    }


def _load_and_export(paths: dict[str, Path], tree: GexStagingTree, timestamp: int) -> None:
    segment = tree.seal([tree.record(timestamp=timestamp)])
    with connect(paths["db"]) as con:
        migrate(con)
        load_segments(con, [segment])
        export_partition(con, paths["parquet"], "SPX", "gex_zero", DAY)
    ensure_reader_views(paths["views"], paths["parquet"])


@contextmanager
def _holder(path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    try:
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def test_views_file_reads_parquet_while_a_writer_holds_the_database(
    paths: dict[str, Path], gex_staging: GexStagingTree
) -> None:
    _load_and_export(paths, gex_staging, GEX_BASE_MS)
    with _holder(paths["db"], "rw"):
        with pytest.raises(duckdb.IOException):  # why notebooks must not open gex_data.db
            duckdb.connect(str(paths["db"]), read_only=True)
        with connect(paths["views"], read_only=True) as notebook:
            rows = notebook.execute(f"SELECT count(*) FROM {STRIKES_VIEW}").fetchall()
    assert rows == [(3,)]


def test_load_and_export_succeed_while_a_notebook_holds_the_views_file(
    paths: dict[str, Path], gex_staging: GexStagingTree
) -> None:
    _load_and_export(paths, gex_staging, GEX_BASE_MS)
    with _holder(paths["views"], "ro") as notebook:
        assert notebook.stdin is not None and notebook.stdout is not None
        _load_and_export(paths, gex_staging, GEX_BASE_MS + 1000)
        notebook.stdin.write("count\n")
        notebook.stdin.flush()
        assert notebook.stdout.readline() == "6\n"


def test_views_file_is_created_once(paths: dict[str, Path], gex_staging: GexStagingTree) -> None:
    _load_and_export(paths, gex_staging, GEX_BASE_MS)
    assert ensure_reader_views(paths["views"], paths["parquet"]) is False
    assert [p.name for p in paths["views"].parent.glob(".gex_views*")] == []
