"""`DuckDBDatabase`: dagster-duckdb's `DuckDBResource`, opened through the project's connect()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from gex_pipeline.defs.resources import DuckDBDatabase
from gex_pipeline.lib.db.writer import lock_path

OTHER_WRITER = """
import sys
from pathlib import Path
from gex_pipeline.lib.db.writer import writer_lock
with writer_lock(Path(sys.argv[1]), timeout=float(sys.argv[2])):
    print("got it")
"""


def _other_process_gets_the_lock(db: Path, timeout: float) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", OTHER_WRITER, str(db), str(timeout)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "got it" in done.stdout


def test_is_a_dagster_duckdb_resource_with_migrations_applied(tmp_path: Path) -> None:
    resource = DuckDBDatabase(database=str(tmp_path / "gex.db"))
    assert isinstance(resource, DuckDBResource)
    with resource.get_connection() as con:
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
    assert {"gex_snapshots", "gex_strikes", "schema_version"} <= tables


def test_connection_is_closed_and_the_writer_lock_released_when_the_block_raises(
    tmp_path: Path,
) -> None:
    db = tmp_path / "gex.db"
    resource = DuckDBDatabase(database=str(db))
    with pytest.raises(RuntimeError), resource.get_connection() as con:
        assert not _other_process_gets_the_lock(db, 0.5)  # held while the block runs
        raise RuntimeError("step failed")
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")
    assert lock_path(db).exists()
    assert _other_process_gets_the_lock(db, 5.0)


def test_works_as_a_resource_of_an_asset(tmp_path: Path) -> None:
    @dg.asset
    def counted(duckdb_database: DuckDBDatabase) -> dg.MaterializeResult:
        with duckdb_database.get_connection() as con:
            rows = con.execute("SELECT count(*) FROM gex_strikes").fetchall()[0][0]
        return dg.MaterializeResult(metadata={"rows": rows})

    result = dg.materialize(
        [counted], resources={"duckdb_database": DuckDBDatabase(database=str(tmp_path / "g.db"))}
    )
    assert result.success
