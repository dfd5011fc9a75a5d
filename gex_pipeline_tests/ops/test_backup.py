"""`gex-pipeline backup` / `backup --verify` / `restore-db`: backup -> delete -> restore is identical."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from gex_pipeline.cli import main
from gex_pipeline.lib.db.backup import (
    BackupInvalid,
    list_backups,
    prune_backups,
    take_backup,
    verify_backup,
)
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.settings import Settings
from gex_pipeline_tests.ops.conftest import DATA_TABLES, Populated, all_rows


def _full_rows(db: Path) -> dict[str, list[tuple]]:
    with connect(db, read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}


def _backup_path(out: str) -> Path:
    line = next(x for x in out.splitlines() if x.startswith("backup written: "))
    return Path(line.removeprefix("backup written: "))


def test_backup_delete_restore_gives_identical_tables(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    db = populated.settings.paths.duckdb_path
    before = _full_rows(db)
    assert all(before[t] for t in ("gex_snapshots", "gex_strikes", "universal_webhooks"))
    assert main(["backup"]) == 0
    path = _backup_path(capsys.readouterr().out)
    assert path.parent == populated.settings.paths.db_backups_dir
    db.unlink()
    assert main(["restore-db", str(path)]) == 0
    assert _full_rows(db) == before


def test_manifest_holds_counts_and_checksums_per_table(populated: Populated) -> None:
    backup = take_backup(
        populated.settings.paths.duckdb_path, populated.settings.paths.db_backups_dir
    )
    manifest = json.loads((backup.path / "manifest.json").read_text())
    assert set(DATA_TABLES) <= set(manifest["tables"])
    strikes = manifest["tables"]["gex_strikes"]
    assert strikes["rows"] == len(all_rows(populated.settings.paths.duckdb_path)["gex_strikes"])
    assert strikes["key_columns"] == ["ticker", "endpoint", "timestamp", "strike"]
    assert strikes["key_checksum"] != strikes["row_checksum"]


def test_verify_detects_a_changed_row(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    backup = take_backup(
        populated.settings.paths.duckdb_path, populated.settings.paths.db_backups_dir
    )
    assert main(["backup", "--verify", str(backup.path)]) == 0
    assert "OK" in capsys.readouterr().out
    con = duckdb.connect(str(backup.db_file))
    con.execute("UPDATE gex_strikes SET gamma = gamma + 1 WHERE rowid = 0")
    con.close()
    manifest = json.loads((backup.path / "manifest.json").read_text())
    manifest["sha256"] = hashlib.sha256(backup.db_file.read_bytes()).hexdigest()
    (backup.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupInvalid, match=r"gex_strikes: rows .* row checksum differs"):
        verify_backup(backup.path)
    assert main(["backup", "--verify", str(backup.path)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_verify_detects_a_damaged_file(populated: Populated) -> None:
    backup = take_backup(
        populated.settings.paths.duckdb_path, populated.settings.paths.db_backups_dir
    )
    with backup.db_file.open("r+b") as fh:
        fh.seek(5000)
        fh.write(b"\xff" * 16)
    with pytest.raises(BackupInvalid, match="sha256"):
        verify_backup(backup.path)


def test_restore_refuses_to_overwrite_without_force(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    db = populated.settings.paths.duckdb_path
    backup = take_backup(db, populated.settings.paths.db_backups_dir)
    with connect(db) as con:
        con.execute("DELETE FROM gex_strikes")
    changed = _full_rows(db)
    assert main(["restore-db", str(backup.path)]) == 2
    assert "refused" in capsys.readouterr().out
    assert _full_rows(db) == changed


def test_forced_restore_keeps_the_replaced_database_aside(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    db = populated.settings.paths.duckdb_path
    original = _full_rows(db)
    backup = take_backup(db, populated.settings.paths.db_backups_dir)
    with connect(db) as con:
        con.execute("DELETE FROM gex_strikes")
    changed = _full_rows(db)
    assert main(["restore-db", str(backup.path), "--force"]) == 0
    out = capsys.readouterr().out
    kept = Path(out.split("kept as ")[1].split()[0])
    assert _full_rows(db) == original
    assert _full_rows(kept) == changed


def test_restore_of_an_invalid_backup_changes_nothing(populated: Populated) -> None:
    db = populated.settings.paths.duckdb_path
    backup = take_backup(db, populated.settings.paths.db_backups_dir)
    (backup.path / "manifest.json").write_text("{")
    before = db.read_bytes()
    assert main(["restore-db", str(backup.path), "--force"]) == 1
    assert db.read_bytes() == before


def test_backup_waits_for_a_writer_and_copies_its_committed_state(populated: Populated) -> None:
    """A writer holding the lock mid-transaction: the backup waits, then sees its whole commit."""
    db = populated.settings.paths.duckdb_path
    started = threading.Event()

    def writer() -> None:
        with connect(db) as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM gex_strikes WHERE ticker = 'SPX'")
            started.set()
            time.sleep(0.5)
            con.execute("COMMIT")

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(5)
    backup = take_backup(db, populated.settings.paths.db_backups_dir)
    thread.join()
    expected = len(all_rows(db)["gex_strikes"])
    assert backup.tables["gex_strikes"]["rows"] == expected


def test_prune_keeps_the_newest(settings: Settings, populated: Populated) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2025, 11, 14, 21, 30, tzinfo=UTC)
    made = [
        take_backup(
            settings.paths.duckdb_path, settings.paths.db_backups_dir, start + timedelta(days=i)
        ).path
        for i in range(3)
    ]
    (settings.paths.db_backups_dir / ".20990101T000000Z.tmp").mkdir()
    assert prune_backups(settings.paths.db_backups_dir, keep=2) == made[:1]
    assert list_backups(settings.paths.db_backups_dir) == made[1:]
    shutil.rmtree(settings.paths.db_backups_dir / ".20990101T000000Z.tmp")


def test_restore_then_replay_brings_back_live_data_loaded_after_the_backup(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    from gex_pipeline.lib.gex.live_load import load_segments
    from gex_pipeline.lib.staging.reader import move_to_processed
    from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

    settings = populated.settings
    backup = take_backup(settings.paths.duckdb_path, settings.paths.db_backups_dir)
    gex = GexStagingTree(settings.paths.staging_dir)
    late = gex.seal([gex.record("SPX", "gex_zero", GEX_BASE_MS + 60_000 + i) for i in range(3)])
    with connect(settings.paths.duckdb_path) as con:
        load_segments(con, [late])
    move_to_processed(gex.dirs, [late.name])
    latest = all_rows(settings.paths.duckdb_path)
    assert main(["restore-db", str(backup.path), "--force"]) == 0
    assert all_rows(settings.paths.duckdb_path) != latest
    assert main(["replay"]) == 0
    assert "replayed 1 /gex and 0 /uw segments" in capsys.readouterr().out
    assert all_rows(settings.paths.duckdb_path) == latest
