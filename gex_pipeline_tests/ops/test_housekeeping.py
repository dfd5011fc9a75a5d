"""The daily maintenance job: each retention deletes what is too old and keeps the rest."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.ops.jobs import maintenance_job
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.lib.ops.housekeeping import purge_finished_requests
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.staging_trees import GexStagingTree

DAY = 86_400
NOW = time.time()


def _file(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    stamp = NOW - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def _request(settings: Settings, n: int, state: str, finished_days_ago: float) -> str:
    request_id = f"{n:032x}"
    at = int((NOW - finished_days_ago * DAY) * 1000)
    root = settings.paths.staging_dir / "history"
    _file(root / "requests" / f"{request_id}.json", 0).write_text(
        json.dumps({"id": request_id, "last_posted_at": at - 1000})
    )
    _file(root / "status" / f"{request_id}.json", 0).write_text(
        json.dumps({"id": request_id, "state": state, "updated_at": at})
    )
    return request_id


def _db_backup(settings: Settings, stamp: str) -> Path:
    """A restore point directory holding no lake table."""
    path = settings.paths.db_backups_dir / stamp
    manifest = {"format": "lake-restore-point/1", "lake": {}, "live": {}, "bytes_added": 0}
    _file(path / "manifest.json", 0).write_text(json.dumps(manifest))
    _file(path / "live.db", 0)
    return path


@pytest.fixture
def aged(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Path | str]]:
    """One item to delete and one to keep for every retention."""
    for name, value in {
        "GEX_STAGING_RETENTION_DAYS": "7",
        "GEX_RAW_RETENTION_DAYS": "365",
        "GEX_HISTORY_BACKUP_RETENTION_DAYS": "30",
        "GEX_HISTORY_RETENTION_DAYS": "30",
        "GEX_DB_BACKUP_KEEP": "2",
    }.items():
        monkeypatch.setenv(name, value)
    gex = GexStagingTree(settings.paths.staging_dir)
    old_seg = gex.seal([gex.record()], seq=time.time_ns() - 8 * DAY * 10**9)
    new_seg = gex.seal([gex.record()], seq=time.time_ns() - 6 * DAY * 10**9)
    for seg in (old_seg, new_seg):
        seg.path.rename(gex.dirs.processed / seg.path.name)
    raw = settings.paths.source_dir / "SPX" / "gex_zero"
    pre = settings.paths.backups_dir / "SPX" / "gex_zero"
    return {
        "gone": [
            gex.dirs.processed / old_seg.path.name,
            _file(raw / "2024-01-02_SPX_classic_gex_zero.json.gz", 400),
            _file(pre / "20251114-20251001T000000000000Z.strikes.parquet", 31),
            _request(settings, 1, "done", 31),
            _request(settings, 2, "failed", 31),
            _db_backup(settings, "20251110T213000Z"),
        ],
        "kept": [
            gex.dirs.processed / new_seg.path.name,
            _file(raw / "2025-11-14_SPX_classic_gex_zero.json.gz", 300),
            _file(pre / "20251114-20251101T000000000000Z.strikes.parquet", 29),
            _request(settings, 3, "done", 29),
            _request(settings, 4, "importing", 300),  # not finished: never purged
            _db_backup(settings, "20251111T213000Z"),
            _db_backup(settings, "20251112T213000Z"),
        ],
    }


def _exists(settings: Settings, item: Path | str) -> bool:
    if isinstance(item, Path):
        return item.exists()
    return (settings.paths.staging_dir / "history" / "requests" / f"{item}.json").exists()


def test_maintenance_job_applies_every_retention(
    settings: Settings, aged: dict[str, list[Path | str]]
) -> None:
    with dg.instance_for_test() as instance:
        result = maintenance_job.execute_in_process(
            instance=instance, resources=build_resources(Settings.from_env())
        )
    assert result.success
    assert [i for i in aged["gone"] if _exists(settings, i)] == []
    assert [i for i in aged["kept"] if not _exists(settings, i)] == []
    (materialization,) = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = materialization.event_specific_data.metadata
    assert metadata["history_requests"].value == 2
    assert metadata["runs"].value == 0


def test_zero_keeps_everything(
    settings: Settings, aged: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GEX_RAW_RETENTION_DAYS", "GEX_HISTORY_BACKUP_RETENTION_DAYS",
                 "GEX_HISTORY_RETENTION_DAYS", "GEX_DB_BACKUP_KEEP"):  # fmt: skip
        monkeypatch.setenv(name, "0")
    monkeypatch.setenv("GEX_STAGING_RETENTION_DAYS", "30")
    with dg.instance_for_test() as instance:
        assert maintenance_job.execute_in_process(
            instance=instance, resources=build_resources(Settings.from_env())
        ).success
    assert all(_exists(settings, i) for i in aged["gone"] + aged["kept"])


def test_a_request_posted_again_after_it_finished_is_kept(settings: Settings) -> None:
    request_id = _request(settings, 5, "done", 40)
    path = settings.paths.staging_dir / "history" / "requests" / f"{request_id}.json"
    reposted = {"id": request_id, "last_posted_at": int(NOW * 1000), "signed_url": "encrypted"}
    path.write_text(json.dumps(reposted))
    assert purge_finished_requests(settings.paths, 30, int(NOW * 1000)) == 0
    assert path.exists()
