"""The ops domain's surface: names users, schedules and run history rely on."""

from __future__ import annotations

import dagster as dg
import pytest

from gex_pipeline.definitions import defs


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs().get_repository_def()


def test_ops_jobs_schedules_and_sensors_are_stable(repository: dg.RepositoryDefinition) -> None:
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"db_backup_job", "maintenance_job"} <= jobs
    schedules = {s.name: s for s in repository.schedule_defs}
    assert {"db_backup_schedule", "maintenance_schedule"} <= set(schedules)
    sensors = {s.name: s for s in repository.sensor_defs}
    alerts = {"alert_sensor"}
    assert alerts <= set(sensors)
    for name in ("db_backup_schedule", "maintenance_schedule"):
        assert schedules[name].default_status == dg.DefaultScheduleStatus.RUNNING
    for name in alerts:
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING
