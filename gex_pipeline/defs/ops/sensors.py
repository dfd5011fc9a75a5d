"""`alert_sensor`: one alert per failed run and per failed asset check evaluation.

One sensor for both (each sensor tick costs the daemon and the code server about 0.1 s of CPU).
Run failures are followed in the event log by storage id; check failures by evaluation time in
the check-execution records (one query for the latest execution of every check, then the history
of the checks evaluated since the last tick). Every failure is alerted once, on SQLite and
PostgreSQL alike; the first tick starts from now rather than replaying the history. Alerts go through
`lib.ops.alerts.send_alert` (alerts.log, and a JSON POST to GEX_ALERT_WEBHOOK_URL when set). A feed
or the /uw stream that goes quiet is alerted as `feed_quiet` by `gex_freshness_sensor`, which
judges it; its failed `feed_freshness` / `stream_freshness` evaluations are not alerted twice
here. The sensor launches no runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import dagster as dg

from gex_pipeline.defs.gex.freshness import FEED_FRESHNESS
from gex_pipeline.defs.webhooks.freshness import STREAM_FRESHNESS
from gex_pipeline.lib.ops.alerts import send_alert

PAGE = 500
ALERT_INTERVAL_SECONDS = 60
ALERTED_ELSEWHERE = (FEED_FRESHNESS, STREAM_FRESHNESS)


@dataclass
class AlertCursor:
    """Storage id of the last run failure seen; time of the newest check evaluation alerted."""

    runs: int = 0
    checks: float = 0.0

    @classmethod
    def parse(cls, raw: str) -> AlertCursor:
        data = json.loads(raw)  # `checks_since`: the name of older releases
        return cls(int(data.get("runs", 0)), float(data.get("checks", data.get("checks_since", 0))))

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _evaluated_at(record: Any) -> float:
    return record.event.timestamp if record.event else 0.0


def log_end(instance: dg.DagsterInstance) -> AlertCursor:
    """A cursor at the end of the log: the latest run failure and check evaluation."""
    runs = instance.fetch_run_status_changes(
        dg.DagsterEventType.RUN_FAILURE, limit=1, ascending=False
    ).records
    return AlertCursor(runs=runs[0].storage_id if runs else 0, checks=time.time())


def alert_run_failures(instance: dg.DagsterInstance, cursor: AlertCursor) -> int:
    """Alert the runs that failed after `cursor.runs`; advance it. Returns how many."""
    records = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(
            dg.DagsterEventType.RUN_FAILURE, after_storage_id=cursor.runs
        ),
        limit=PAGE,
        ascending=True,
    ).records
    for record in records:
        cursor.runs = record.storage_id
        entry = record.event_log_entry
        run = instance.get_run_by_id(entry.run_id)
        message = (entry.dagster_event.message if entry.dagster_event else None) or "failed"
        job = run.job_name if run else "?"
        tags = run.tags if run else {}
        send_alert(
            "run_failure",
            f"run {entry.run_id[:8]} of {job} failed: {message.splitlines()[0][:300]}",
            {
                "run_id": entry.run_id,
                "job": job,
                "partition": tags.get("dagster/partition"),
                "retry_number": tags.get("dagster/retry_number"),
            },
        )
    return len(records)


def alert_check_failures(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey], cursor: AlertCursor
) -> int:
    """Alert the failed evaluations newer than `cursor.checks` (a time); advance it.

    One query for the latest execution of every check, then the history of those evaluated
    since the last tick (the instance's check-execution records; SQLite and PostgreSQL alike).
    """
    storage = instance.event_log_storage
    since = cursor.checks
    latest = storage.get_latest_asset_check_execution_by_key(check_keys)
    recent = [
        key
        for key, record in latest.items()
        if record.status.value == "PLANNED" or _evaluated_at(record) > since
    ]
    failures = [
        record
        for key in sorted(recent, key=str)
        for record in storage.get_asset_check_execution_history(key, limit=PAGE)
        if _evaluated_at(record) > since
    ]
    alerted = 0
    for record in sorted(failures, key=_evaluated_at):
        cursor.checks = max(cursor.checks, _evaluated_at(record))
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is None or evaluation.passed:
            continue
        if evaluation.check_name in ALERTED_ELSEWHERE:
            continue  # alerted as `feed_quiet` by the freshness sensor
        alerted += 1
        _alert_check(evaluation, record.run_id)
    return alerted


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
    name="alert_sensor",
    minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed run and per failed asset check (alerts.log + "
    "GEX_ALERT_WEBHOOK_URL).",
)
def alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Alert what failed since the last tick; the first tick only notes where the log ends."""
    instance = context.instance
    if context.cursor is None:
        context.update_cursor(log_end(instance).dump())
        return dg.SkipReason("started: alerting on failures from now on")
    cursor = AlertCursor.parse(context.cursor)
    runs = alert_run_failures(instance, cursor)
    check_keys = list(context.repository_def.asset_graph.asset_check_keys)
    checks = alert_check_failures(instance, check_keys, cursor)
    context.update_cursor(cursor.dump())
    return dg.SkipReason(f"{runs} failed run(s) and {checks} failed check(s) alerted")


ops_sensors = [alert_sensor]
