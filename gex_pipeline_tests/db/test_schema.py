"""Versioned DuckDB schema: migrations apply once, in order, atomically."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.migrations import MIGRATIONS, Migration
from gex_pipeline.lib.db.schema import current_version, latest_version, migrate


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SHOW TABLES").fetchall()}


def test_migrate_creates_every_table_and_records_the_version(tmp_path: Path) -> None:
    with connect(tmp_path / "gex.db") as con:
        assert migrate(con) == latest_version()
        assert {"gex_snapshots", "gex_strikes", "gex_events", "gex_conflicts"} <= _tables(con)
        assert current_version(con) == MIGRATIONS[-1].version


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        migrate(con)
        rows = con.execute("SELECT count(*) FROM schema_version").fetchall()
    assert rows[0][0] == len(MIGRATIONS)


def test_failing_migration_rolls_back_and_keeps_previous_version(tmp_path: Path) -> None:
    broken = (*MIGRATIONS, Migration(99, "broken", ("CREATE TABLE half (a INT)", "NOT SQL")))
    with connect(tmp_path / "gex.db") as con:
        with pytest.raises(duckdb.Error):
            migrate(con, broken)
        assert current_version(con) == latest_version()
        assert "half" not in _tables(con)


def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    future = MIGRATIONS[-1].version + 1
    newer = (*MIGRATIONS, Migration(future, "future", ("CREATE TABLE future (a INT)",)))
    with connect(tmp_path / "gex.db") as con:
        migrate(con, newer)
        with pytest.raises(RuntimeError, match="newer than this code"):
            migrate(con)


def test_snapshot_natural_key_is_unique(tmp_path: Path) -> None:
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        insert = (
            "INSERT INTO gex_snapshots (ticker, endpoint, timestamp, trade_date, strike_count,"
            " source, ingested_at) VALUES ('SPX', 'gex_zero', 1, DATE '2025-11-14', 0, 'live', now())"
        )
        con.execute(insert)
        with pytest.raises(duckdb.ConstraintException):
            con.execute(insert)


def test_delete_and_reinsert_of_same_keys_in_one_transaction_succeeds(tmp_path: Path) -> None:
    # What a partition replacement does; duckdb has had issues with it on indexed tables.
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        rows = (
            "SELECT 'SPX', 'gex_zero', i, DATE '2025-11-14', 0, '{v}', now() FROM range(5000) r(i)"
        )
        cols = "(ticker, endpoint, timestamp, trade_date, strike_count, source, ingested_at)"
        con.execute(f"INSERT INTO gex_snapshots {cols} {rows.format(v='old')}")
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM gex_snapshots WHERE ticker = 'SPX'")
        con.execute(f"INSERT INTO gex_snapshots {cols} {rows.format(v='new')}")
        con.execute("COMMIT")
        result = con.execute("SELECT source, count(*) FROM gex_snapshots GROUP BY 1").fetchall()
    assert result == [("new", 5000)]


def test_connection_is_closed_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), connect(tmp_path / "gex.db") as con:
        raise RuntimeError("boom")
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")
