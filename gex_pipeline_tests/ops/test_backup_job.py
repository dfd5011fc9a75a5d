"""The daily `db_backup_job` and its schedule: one verified backup after a session, none on holidays."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from gex_pipeline.defs.ops.jobs import db_backup_job
from gex_pipeline.defs.ops.schedules import db_backup_schedule
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.lib.lake.restore_points import list_points, verify_point
from gex_pipeline.settings import Settings
from gex_pipeline_tests.ops.conftest import Populated

NY = ZoneInfo("America/New_York")


def _tick(day: str) -> list[dg.RunRequest] | str | None:
    when = datetime.fromisoformat(f"{day}T16:30:00").replace(tzinfo=NY)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        data = db_backup_schedule.evaluate_tick(context)
    return data.run_requests or data.skip_message


def test_schedule_runs_after_a_session_and_skips_a_weekday_holiday() -> None:
    requests = _tick("2025-11-14")
    assert [r.run_key for r in requests] == ["db-backup-2025-11-14"]
    assert "not an NYSE session" in _tick("2025-11-27")  # Thanksgiving, a Thursday


def test_job_writes_a_verified_backup_and_keeps_the_newest(
    populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEX_DB_BACKUP_KEEP", "1")
    root = populated.settings.paths.db_backups_dir
    instance = dg.DagsterInstance.ephemeral()
    for second in range(2):
        if second:
            time.sleep(1.1)  # backups are stamped to the second
        result = db_backup_job.execute_in_process(
            instance=instance, resources=build_resources(Settings.from_env())
        )
        assert result.success
    points = list_points(root)
    assert len(points) == 1
    verify_point(points[0], full=True)
