"""Readers of the lake never block the pipeline, and the README's reading snippets run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.lake.mirror import mirror
from gex_pipeline.lib.lake.seal import hot_partitions, seal
from gex_pipeline.lib.lake.tables import Lake
from gex_pipeline.reader import connect as connect_reader
from gex_pipeline.reader import refresh
from gex_pipeline_tests.support.object_store import ObjectStore
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

README = Path(__file__).resolve().parents[2] / "README.md"


def _load(data_dir: Path, staging: GexStagingTree, seconds: range) -> None:
    records = [staging.record(timestamp=GEX_BASE_MS + s * 1000, spot=1.0 + s) for s in seconds]
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        load_segments(con, [staging.seal(records)])
        mirror(con, Lake(str(data_dir / "lake")), since=None)


def test_a_reader_holding_a_connection_never_blocks_loads_or_seals(
    data_dir: Path, gex_staging: GexStagingTree
) -> None:
    _load(data_dir, gex_staging, range(3))
    reader = connect_reader(data_dir)
    assert reader.execute("SELECT count(*) FROM gex_snapshots").fetchall() == [(3,)]
    stop = threading.Event()
    aggregates = []

    def keep_reading() -> None:
        while not stop.is_set():
            aggregates.append(reader.execute("SELECT count(*) FROM gex_strikes").fetchall())

    thread = threading.Thread(target=keep_reading)
    thread.start()
    try:
        started = time.monotonic()
        _load(data_dir, gex_staging, range(3, 6))
        with connect(data_dir / "gex_data.db") as con:
            for partition in hot_partitions(con):
                seal(con, Lake(str(data_dir / "lake")), partition)
        assert time.monotonic() - started < 30
    finally:
        stop.set()
        thread.join()
    assert aggregates and aggregates[-1] == [(9,)]  # its version: the rows when it connected
    refresh(reader, data_dir)
    assert reader.execute("SELECT count(*) FROM gex_snapshots").fetchall() == [(6,)]
    reader.close()


SHARED = "### From another machine"


def _readme_snippets(shared: bool = False) -> list[str]:
    """The python snippets of the README's reading section: of a local data directory, or of
    its subsection on a shared lake."""
    text = README.read_text()
    section = text.split("## Reading the data", 1)[1].split("\n## ", 1)[0]
    local, _, remote = section.partition(SHARED)
    return re.findall(r"```python\n(.*?)```", remote if shared else local, flags=re.S)


def test_the_readme_reading_snippets_run_against_a_data_directory(
    data_dir: Path, gex_staging: GexStagingTree, tmp_path: Path
) -> None:
    _load(data_dir, gex_staging, range(4))
    snippets = _readme_snippets()
    assert len(snippets) == 2
    for n, code in enumerate(snippets):
        script = tmp_path / f"snippet{n}.py"
        script.write_text(code + "\nprint('snippet ok')\n")
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=data_dir.parent,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(README.parent)},
        )
        assert done.returncode == 0, done.stderr
        assert "snippet ok" in done.stdout


def test_the_readme_shared_lake_snippet_reads_closed_and_open_partitions_from_object_storage(
    tmp_path: Path, object_store: ObjectStore
) -> None:
    """Two hosts load into one lake on the object store: one sealed its day (closed), the other
    only mirrored today's rows (open). The snippet runs on a "research machine": an empty
    working directory and data directory, only the lake's settings."""
    prefix = f"readers-{time.time_ns()}"
    yesterday, today = GEX_BASE_MS - 86_400_000, GEX_BASE_MS
    for n, (base, sealed) in enumerate(((yesterday, True), (today, False))):
        host = tmp_path / f"host{n}"
        staging = GexStagingTree(host / "staging")
        records = [staging.record(timestamp=base + s * 1000, spot=1.0 + s) for s in range(3)]
        lake = object_store.lake(prefix, host=f"host{n}")
        with connect(host / "gex_data.db") as con:
            migrate(con)
            load_segments(con, [staging.seal(records)])
            mirror(con, lake, since=None)
            for partition in hot_partitions(con) if sealed else []:
                seal(con, lake, partition)
    (snippet,) = _readme_snippets(shared=True)
    research = tmp_path / "research"
    research.mkdir()
    script = research / "snippet.py"
    script.write_text(
        snippet
        + "\nrows = con.sql('SELECT count(*), count(DISTINCT trade_date) FROM gex_snapshots')"
        + "\nassert rows.fetchall() == [(6, 2)], rows.fetchall()"
        + "\nassert strikes.height == 18, strikes.height"
        + "\nprint('snippet ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEX_", "AWS_"))}
    env |= object_store.env(prefix)
    env |= {"PYTHONPATH": str(README.parent), "GEX_DATA_DIR": str(research / "no-data")}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=research,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "snippet ok" in done.stdout
    assert sorted(p.name for p in research.iterdir()) == ["snippet.py"]
