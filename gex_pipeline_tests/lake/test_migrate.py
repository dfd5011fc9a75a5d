"""`gex-pipeline migrate`: a single-file gex_data.db moves into the lake without loss, verified."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.cli.main import main
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.migrations import MIGRATIONS
from gex_pipeline.lib.db.schema import current_version, migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.lib.lake import migrate as lake_migrate
from gex_pipeline.lib.lake.migrate import (
    MigrationFailed,
    drop_old,
    migrate_store,
    needs_migration,
    table_fingerprint,
)
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.tables import Lake
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree, UwStagingTree

SINGLE_FILE_MIGRATIONS = tuple(m for m in MIGRATIONS if m.version <= 5)


def _single_file_store(
    db: Path, tmp_path: Path, gex: GexStagingTree, uw: UwStagingTree
) -> dict[str, tuple[int, str]]:
    """A store of the single-file layout: live rows, an imported day and webhooks; returns the
    fingerprint of every data table."""
    day = make_day_file(tmp_path / "files", "2025-11-13", "SPX", snapshots=40, strikes=5)
    with connect(db) as con:
        migrate(con, SINGLE_FILE_MIGRATIONS)
        records = [gex.record(timestamp=GEX_BASE_MS + s * 1000, spot=1.0 + s) for s in range(30)]
        load_segments(con, [gex.seal(records)])
        import_day_file(con, day.path, ticker="SPX", endpoint="gex_zero",
                        trade_date=date(2025, 11, 13), backups_dir=tmp_path / "pre")  # fmt: skip
        load_uw_segments(con, [uw.seal(uw.records(uw.messages(25)))])
        con.execute("SET TimeZone = 'UTC'")
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {
            n: table_fingerprint(con, n, n)
            for n in names
            if n in lake_migrate.SPECS and n != "gex_partition_changes"
        }


@pytest.fixture
def uw_staging(data_dir: Path) -> UwStagingTree:
    return UwStagingTree(data_dir / "staging")


def test_migration_moves_every_row_and_keeps_the_old_file(
    data_dir: Path, tmp_path: Path, gex_staging, uw_staging
) -> None:
    db, lake = data_dir / "gex_data.db", Lake(str(data_dir / "lake"))
    before = _single_file_store(db, tmp_path, gex_staging, uw_staging)
    assert needs_migration(db)
    report = migrate_store(db, lake)
    assert report.verified and report.kept is not None and report.kept.exists()
    assert {n: r for n, r in report.rows.items() if n in before} == {
        n: fp[0] for n, fp in before.items()
    }
    with connect_lake(lake) as con:
        con.execute("SET TimeZone = 'UTC'")
        after = {n: table_fingerprint(con, n, n) for n in before}
    assert after == before
    with connect(db) as con:
        assert current_version(con) == max(m.version for m in MIGRATIONS)
        assert con.execute("SELECT count(*) FROM gex_snapshots").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM loaded_segments").fetchall() == [(2,)]
    assert not needs_migration(db)
    assert drop_old(db) and not report.kept.exists()


def test_an_interrupted_migration_resumes(
    data_dir: Path, tmp_path: Path, gex_staging, uw_staging, monkeypatch
) -> None:
    db, lake = data_dir / "gex_data.db", Lake(str(data_dir / "lake"))
    _single_file_store(db, tmp_path, gex_staging, uw_staging)
    calls = {"n": 0}
    original = lake_migrate.replace

    def fail_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(lake_migrate, "replace", fail_on_third)
    with pytest.raises(OSError):
        migrate_store(db, lake)
    assert needs_migration(db)
    monkeypatch.setattr(lake_migrate, "replace", original)
    progress = next(data_dir.glob("*.migrate-progress.json"))
    assert len(json.loads(progress.read_text())) == 2
    assert migrate_store(db, lake).verified


def test_a_store_killed_between_its_first_schema_steps_migrates(tmp_path: Path) -> None:
    db = tmp_path / "gex_data.db"
    with connect(db) as con:
        migrate(con, MIGRATIONS[:1])  # a first start killed after the first schema step
    assert lake_migrate.needs_migration(db)
    lake_migrate.migrate_store(db, Lake(str(tmp_path / "lake")))
    assert not lake_migrate.needs_migration(db)
    with connect(db) as con:
        assert current_version(con) == max(m.version for m in MIGRATIONS)


def test_a_lake_that_differs_fails_the_verification(
    data_dir: Path, tmp_path: Path, gex_staging, uw_staging, monkeypatch
) -> None:
    db, lake = data_dir / "gex_data.db", Lake(str(data_dir / "lake"))
    _single_file_store(db, tmp_path, gex_staging, uw_staging)
    original = lake_migrate.lake_rows

    def drop_a_row(con, name, query, params=None):
        if name == "gex_strikes":
            query = f"SELECT * FROM ({query}) LIMIT (SELECT count(*) - 1 FROM ({query}))"
        return original(con, name, query, params)

    monkeypatch.setattr(lake_migrate, "lake_rows", drop_a_row)
    with pytest.raises(MigrationFailed, match="gex_strikes"):
        migrate_store(db, lake)
    assert needs_migration(db)


def test_migrate_command_reports_and_is_idempotent(
    data_dir: Path, tmp_path: Path, gex_staging, uw_staging, capsys
) -> None:
    _single_file_store(data_dir / "gex_data.db", tmp_path, gex_staging, uw_staging)
    assert main(["migrate"]) == 0
    assert "rows verified" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert main(["migrate", "--drop-old"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert duckdb.connect(str(data_dir / "gex_data.db"), read_only=True).close() is None
