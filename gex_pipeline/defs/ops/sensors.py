"""Alert sensors: failed runs, failed checks and live feeds that go quiet during the session.

Each writes one alert per event through `lib.ops.alerts.send_alert` (alerts.log, and a JSON POST
to GEX_ALERT_WEBHOOK_URL when set). None of them launches runs.
"""

import time

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from gex_pipeline.defs.gex.keys import GEX_SNAPSHOTS
from gex_pipeline.lib.calendar.trading_date import trading_date_of
from gex_pipeline.lib.ops.alerts import send_alert
from gex_pipeline.lib.ops.freshness import FeedState, newly_quiet, observe, start_day
from gex_pipeline.settings import Settings

PAGE = 500


def now_ms() -> int:
    """The current time in epoch milliseconds (a seam for tests)."""
    return time.time_ns() // 1_000_000


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed run (alerts.log + GEX_ALERT_WEBHOOK_URL).",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    message = context.failure_event.message or "failed"
    send_alert(
        "run_failure",
        f"run {run.run_id[:8]} of {run.job_name} failed: {message.splitlines()[0][:300]}",
        {
            "run_id": run.run_id,
            "job": run.job_name,
            "partition": run.tags.get("dagster/partition"),
            "retry_number": run.tags.get("dagster/retry_number"),
        },
    )


@dg.sensor(
    name="alert_on_check_failure",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed asset check evaluation (alerts.log + webhook).",
)
def alert_on_check_failure(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Failed executions of every check of the code location, newer than the cursor (a time).

    Reads the check-execution table (works on run-sharded SQLite and on PostgreSQL alike); the
    first tick starts from now rather than replaying the history.
    """
    if context.cursor is None:
        context.update_cursor(str(time.time()))
        return dg.SkipReason("started: alerting on check failures from now on")
    since = float(context.cursor)
    storage = context.instance.event_log_storage
    newest, alerted = since, 0
    for key in sorted(context.repository_def.asset_graph.asset_check_keys, key=str):
        records = storage.get_asset_check_execution_history(
            key, limit=PAGE, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        for record in reversed(records):
            entry = record.event
            evaluation = (
                entry.dagster_event.event_specific_data if entry and entry.dagster_event else None
            )
            if entry is None or entry.timestamp <= since or evaluation is None:
                continue
            newest = max(newest, entry.timestamp)
            alerted += 1
            _alert_check(evaluation, record.run_id)
    context.update_cursor(str(newest))
    return dg.SkipReason(f"{alerted} new check failures alerted")


def _alert_check(evaluation: dg.AssetCheckEvaluation, run_id: str | None) -> None:
    where = f" on {evaluation.partition}" if evaluation.partition else ""
    asset = evaluation.asset_key.to_user_string()
    send_alert(
        "check_failure",
        f"{evaluation.severity.value} check {asset}:{evaluation.check_name} failed{where}",
        {
            "asset": asset,
            "check": evaluation.check_name,
            "severity": evaluation.severity.value,
            "partition": evaluation.partition,
            "run_id": run_id or None,
            "description": evaluation.description,
        },
    )


@dg.sensor(
    name="alert_on_quiet_feed",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert when a live feed stops reporting gex_snapshots during the NYSE session.",
)
def alert_on_quiet_feed(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    now = now_ms()
    today = trading_date_of(now)
    state = FeedState.loads(context.cursor)
    start_day(state, today)
    while True:
        page = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=GEX_SNAPSHOTS, after_storage_id=state.after_storage_id or None
            ),
            limit=PAGE,
            ascending=True,
        )
        for record in page.records:
            observe(state, record.partition_key, int(record.timestamp * 1000), today)
            state.after_storage_id = record.storage_id
        if not page.has_more:
            break
    quiet_ms = Settings.from_env().ops.feed_quiet_seconds * 1000
    quiet = newly_quiet(state, now, quiet_ms)
    for feed, seen in quiet:
        send_alert(
            "feed_quiet",
            f"live feed {feed} has not loaded for {(now - seen) // 1000}s during the session",
            {"feed": feed, "last_loaded_ms": seen, "quiet_seconds": (now - seen) // 1000},
        )
    context.update_cursor(state.dumps())
    return dg.SkipReason(f"{len(state.last_seen_ms)} feeds live today, {len(quiet)} newly quiet")


ops_sensors = [alert_on_run_failure, alert_on_check_failure, alert_on_quiet_feed]
