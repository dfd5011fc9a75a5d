"""`gex-pipeline backup` / `backup --verify` / `restore-db`: restore points of the whole store."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from gex_pipeline.cli import main
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.lake.restore_points import BackupRoots, list_points
from gex_pipeline.lib.lake.tables import Partition
from gex_pipeline.lib.lake.writes import empty_rows, replace
from gex_pipeline.lib.staging.reader import move_to_processed
from gex_pipeline_tests.ops.conftest import LIVE_DAY, Populated, all_rows, table_rows
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

SPX = Partition(LIVE_DAY, "SPX.gex_zero")


def _backup_path(out: str) -> Path:
    line = next(x for x in out.splitlines() if x.startswith("backup written: "))
    return Path(line.removeprefix("backup written: "))


def _backup(capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["backup"]) == 0
    return _backup_path(capsys.readouterr().out)


def _empty_spx(populated: Populated) -> None:
    for table in ("gex_strikes", "gex_snapshots"):
        replace(populated.lake, table, SPX, empty_rows(table), writer="test")


def test_lake_deleted_then_restored_gives_identical_tables(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    before = all_rows(populated.lake)
    assert all(before[t] for t in ("gex_snapshots", "gex_strikes", "universal_webhooks"))
    path = _backup(capsys)
    assert path.parent == populated.settings.paths.db_backups_dir
    shutil.rmtree(populated.settings.paths.lake_dir)
    populated.settings.paths.duckdb_path.unlink()
    assert main(["restore-db", str(path)]) == 0
    assert all_rows(populated.lake) == before


def test_manifest_holds_versions_and_checksums_of_every_file(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((_backup(capsys) / "manifest.json").read_text())
    strikes = manifest["lake"]["gex_strikes"]
    assert strikes["version"] >= 0
    assert strikes["files"] and all(len(sha) == 64 for _, sha in strikes["files"].values())
    assert manifest["live"]["rows"]["loaded_segments"] > 0


def test_verify_detects_a_damaged_file(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _backup(capsys)
    assert main(["backup", "--verify", str(path)]) == 0
    assert "OK" in capsys.readouterr().out
    manifest = json.loads((path / "manifest.json").read_text())
    rel = next(f for f in manifest["lake"]["gex_strikes"]["added"] if f.endswith(".parquet"))
    damaged = BackupRoots(populated.settings.paths.backups_dir).table_mirror("gex_strikes") / rel
    with damaged.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff" * 16)
    assert main(["backup", "--verify", str(path)]) == 1
    assert "sha256" in capsys.readouterr().out


def test_restore_refuses_to_overwrite_without_force(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _backup(capsys)
    _empty_spx(populated)
    changed = all_rows(populated.lake)
    assert main(["restore-db", str(path)]) == 2
    assert "refused" in capsys.readouterr().out
    assert all_rows(populated.lake) == changed


def test_forced_restore_keeps_the_replaced_state(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    original = all_rows(populated.lake)
    path = _backup(capsys)
    _empty_spx(populated)
    assert main(["restore-db", str(path), "--force"]) == 0
    kept = Path(capsys.readouterr().out.split("kept as ")[1].split()[0])
    assert kept.exists()
    assert all_rows(populated.lake) == original
    emptied = populated.lake.open("gex_strikes", populated.lake.open("gex_strikes").version() - 1)
    assert emptied is not None  # the replaced state stays in the lake's history


def test_restore_of_an_invalid_point_changes_nothing(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _backup(capsys)
    (path / "manifest.json").write_text("{")
    db = populated.settings.paths.duckdb_path
    before = db.read_bytes()
    assert main(["restore-db", str(path), "--force"]) == 1
    assert db.read_bytes() == before


def test_backup_waits_for_a_writer_and_holds_it_briefly(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writer holding the lock mid-transaction: the point waits, then includes its commit."""
    settings = populated.settings
    gex = GexStagingTree(settings.paths.staging_dir)
    late = gex.seal([gex.record("SPX", "gex_zero", GEX_BASE_MS + 90_000)])
    started = threading.Event()

    def writer() -> None:
        with connect(settings.paths.duckdb_path) as con:
            started.set()
            time.sleep(0.5)
            load_segments(con, [late])

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(5)
    path = _backup(capsys)
    thread.join()
    point = json.loads((path / "manifest.json").read_text())
    version = point["lake"]["gex_snapshots"]["version"]
    old = populated.lake.open("gex_snapshots", version)
    assert old is not None
    with connect(settings.paths.duckdb_path) as con:
        live = con.execute("SELECT count(*) FROM gex_snapshots").fetchall()[0][0]
    assert live == 1  # the open row, mirrored to the lake by the backup itself
    assert (GEX_BASE_MS + 90_000,) in [(r[2],) for r in table_rows(populated.lake, "gex_snapshots")]


def test_points_beyond_the_kept_ones_are_pruned(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    made = []
    for _ in range(3):
        made.append(_backup(capsys))
        time.sleep(1.05)  # points are stamped to the second
    assert main(["backup", "--keep", "2"]) == 0
    assert "pruned old backup" in capsys.readouterr().out
    points = list_points(populated.settings.paths.db_backups_dir)
    assert len(points) == 2 and made[0] not in points


def test_restore_then_replay_brings_back_live_data_loaded_after_the_point(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = populated.settings
    path = _backup(capsys)
    gex = GexStagingTree(settings.paths.staging_dir)
    late = gex.seal([gex.record("SPX", "gex_zero", GEX_BASE_MS + 60_000 + i) for i in range(3)])
    with connect(settings.paths.duckdb_path) as con:
        load_segments(con, [late])
    move_to_processed(gex.dirs, [late.name])
    assert main(["replay"]) == 0  # mirrors the late rows to the lake
    capsys.readouterr()
    latest = all_rows(populated.lake)
    assert main(["restore-db", str(path), "--force"]) == 0
    assert all_rows(populated.lake) != latest
    assert main(["replay"]) == 0
    assert "replayed 1 /gex and 0 /uw segments" in capsys.readouterr().out
    assert all_rows(populated.lake) == latest
