"""Schedules of the ops domain: daily work after the close, on trading sessions only."""

from __future__ import annotations

import dagster as dg

from gex_pipeline.defs.ops.jobs import db_backup_job, maintenance_job
from gex_pipeline.lib.calendar.sessions import is_session

NEW_YORK = "America/New_York"
# 16:30 New York: half an hour after a regular close (early closes end at 13:00).
AFTER_CLOSE_CRON = "30 16 * * 1-5"


@dg.schedule(
    cron_schedule=AFTER_CLOSE_CRON,
    execution_timezone=NEW_YORK,
    job=db_backup_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Back up gex_data.db after each session's close; weekday holidays are skipped.",
)
def db_backup_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """One backup per session day, keyed by the day so a retried tick launches nothing twice."""
    day = context.scheduled_execution_time.date()
    if not is_session(day):
        return dg.SkipReason(f"{day} is not an NYSE session: no backup")
    return dg.RunRequest(
        run_key=f"db-backup-{day.isoformat()}", tags={"gex/session": day.isoformat()}
    )


maintenance_schedule = dg.ScheduleDefinition(
    name="maintenance_schedule",
    cron_schedule="0 18 * * *",
    execution_timezone=NEW_YORK,
    job=maintenance_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily retention of staging, raw files, pre-images, requests, backups and runs.",
)

ops_schedules = [db_backup_schedule, maintenance_schedule]
