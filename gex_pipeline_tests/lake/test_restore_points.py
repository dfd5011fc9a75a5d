"""Restore points: incremental, verified, restorable per feed-day or whole, safe when killed."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import date
from pathlib import Path

import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.lake import restore_points
from gex_pipeline.lib.lake.mirror import mirror
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.restore_points import (
    BackupInvalid,
    BackupRoots,
    RestoreRefused,
    list_points,
    prune_points,
    restore_partition,
    restore_store,
    take_point,
    verify_point,
)
from gex_pipeline.lib.lake.seal import seal
from gex_pipeline.lib.lake.tables import Lake, Partition
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)
NEXT_DAY_MS = GEX_BASE_MS + 3 * 86_400_000  # Monday 2025-11-17
SPX = Partition(DAY, "SPX.gex_zero")


@pytest.fixture
def store(tmp_path: Path):
    db = tmp_path / "gex_data.db"
    with connect(db) as con:
        migrate(con)
    return db, Lake(str(tmp_path / "lake")), BackupRoots(tmp_path / "backups")


def _load_day(db: Path, lake: Lake, staging: GexStagingTree, base_ms: int, n: int) -> None:
    records = [staging.record(timestamp=base_ms + s * 1000, spot=100.0 + s) for s in range(n)]
    with connect(db) as con:
        load_segments(con, [staging.seal(records)])
        mirror(con, lake, since=None)


def _rows(lake: Lake, query: str) -> list[tuple]:
    with connect_lake(lake) as con:
        return con.execute(query).fetchall()


def _point(db: Path, lake: Lake, backups: BackupRoots, second: int):
    from datetime import UTC, datetime

    return take_point(db, lake, backups, now=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))


def test_a_point_copies_only_what_changed_since_the_previous(store, gex_staging) -> None:
    db, lake, backups = store
    _load_day(db, lake, gex_staging, GEX_BASE_MS, 200)
    first = _point(db, lake, backups, 1)
    unchanged = _point(db, lake, backups, 2)
    _load_day(db, lake, gex_staging, NEXT_DAY_MS, 200)
    grown = _point(db, lake, backups, 3)
    data = [f for t in first.manifest["lake"].values() for f in t["added"] if "_delta_log" not in f]
    assert data, "the first point copies the data files"
    assert all("_delta_log" in f for t in unchanged.manifest["lake"].values() for f in t["added"])
    new_data = [
        f for t in grown.manifest["lake"].values() for f in t["added"] if "_delta_log" not in f
    ]
    assert new_data and all("2025-11-17" in f for f in new_data)
    assert grown.bytes_added < first.bytes_added * 1.5


def test_verify_names_a_damaged_or_missing_file(store, gex_staging) -> None:
    db, lake, backups = store
    _load_day(db, lake, gex_staging, GEX_BASE_MS, 50)
    point = _point(db, lake, backups, 1)
    assert verify_point(point.path).stamp == point.stamp
    name, table = next((n, t) for n, t in point.manifest["lake"].items() if t["added"])
    added = next(f for f in table["added"] if f.endswith(".parquet"))
    target = backups.table_mirror(name) / added
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BackupInvalid, match="sha256"):
        verify_point(point.path)
    target.unlink()
    with pytest.raises(BackupInvalid, match="missing"):
        verify_point(point.path)


def test_restore_one_feed_day_to_a_point(store, gex_staging) -> None:
    db, lake, backups = store
    _load_day(db, lake, gex_staging, GEX_BASE_MS, 30)
    point = _point(db, lake, backups, 1)
    _load_day(db, lake, gex_staging, GEX_BASE_MS + 30_000, 10)
    assert _rows(lake, "SELECT count(*) FROM gex_snapshots") == [(40,)]
    with connect(db) as con:
        seal(con, lake, SPX)
    restored = restore_partition(point, lake, SPX)
    assert restored["gex_snapshots"] == 30
    assert _rows(lake, "SELECT count(*), max(spot) FROM gex_snapshots") == [(30, 129.0)]


def test_restore_the_whole_store_keeps_the_replaced_file(store, gex_staging) -> None:
    db, lake, backups = store
    _load_day(db, lake, gex_staging, GEX_BASE_MS, 20)
    point = _point(db, lake, backups, 1)
    _load_day(db, lake, gex_staging, NEXT_DAY_MS, 20)
    with pytest.raises(RestoreRefused):
        restore_store(point, lake, db)
    replaced = restore_store(point, lake, db, force=True)
    assert replaced is not None and replaced.exists()
    assert _rows(lake, "SELECT count(*) FROM gex_snapshots") == [(20,)]
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM loaded_segments").fetchall() == [(1,)]


def test_prune_keeps_the_files_of_kept_points_only(store, gex_staging) -> None:
    db, lake, backups = store
    _load_day(db, lake, gex_staging, GEX_BASE_MS, 20)
    _point(db, lake, backups, 1)
    _load_day(db, lake, gex_staging, NEXT_DAY_MS, 20)
    newest = _point(db, lake, backups, 2)
    assert prune_points(backups, keep=1) == [backups.points / "20260101T000001Z"]
    assert list_points(backups.points) == [newest.path]
    assert verify_point(newest.path, full=True).stamp == newest.stamp


def _killed_during_copy(db: Path, lake_root: str, backups_root: Path) -> None:
    copied = {"n": 0}
    original = restore_points._sha256_copy

    def copy_then_die(src: Path, dst: Path) -> tuple[int, str]:
        copied["n"] += 1
        if copied["n"] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(src, dst)

    restore_points._sha256_copy = copy_then_die  # type: ignore[assignment]
    take_point(db, Lake(lake_root), BackupRoots(backups_root))


def test_a_backup_killed_midway_publishes_nothing_and_the_next_one_works(
    store, gex_staging
) -> None:
    db, lake, backups = store
    _load_day(db, lake, gex_staging, GEX_BASE_MS, 20)
    child = multiprocessing.get_context("spawn").Process(
        target=_killed_during_copy, args=(db, lake.root, backups.root)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert list_points(backups.points) == []
    point = _point(db, lake, backups, 5)
    assert verify_point(point.path, full=True).stamp == point.stamp
