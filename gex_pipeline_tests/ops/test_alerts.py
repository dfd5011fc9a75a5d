"""Alerts reach alerts.log and a local webhook: run failures, check failures, quiet feeds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from gex_pipeline.defs.ops import sensors
from gex_pipeline.lib.calendar.sessions import session
from gex_pipeline.lib.ops.alerts import read_alerts, send_alert
from gex_pipeline.lib.ops.freshness import FeedState, newly_quiet, observe, start_day
from gex_pipeline.settings import Settings

DAY = "2025-11-14"
SESSION = session(__import__("datetime").date.fromisoformat(DAY))
assert SESSION is not None
MINUTE = 60_000


class Webhook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[Webhook]:
    hook = Webhook()
    monkeypatch.setenv("GEX_ALERT_WEBHOOK_URL", hook.url)
    yield hook
    hook.close()


def test_send_alert_posts_json_and_writes_one_line(webhook: Webhook, settings: Settings) -> None:
    assert send_alert("disk_low", "free disk 100 MiB", {"free_mb": 100})
    (body,) = webhook.bodies
    assert body["kind"] == "disk_low" and body["details"] == {"free_mb": 100}
    (line,) = read_alerts(settings.paths)
    assert line["summary"] == "free disk 100 MiB" and line["webhook"] == "sent"


def test_without_a_webhook_the_alert_is_only_logged(data_dir: Path, settings: Settings) -> None:
    assert not send_alert("disk_low", "x")
    assert read_alerts(settings.paths)[0]["webhook"] == "not configured"


def test_a_failing_webhook_is_recorded_not_raised(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    hook = Webhook(status=500)
    monkeypatch.setenv("GEX_ALERT_WEBHOOK_URL", hook.url)
    try:
        assert not send_alert("disk_low", "x")
    finally:
        hook.close()
    assert read_alerts(settings.paths)[0]["webhook"] == "failed: HTTP 500"


@dg.asset
def broken() -> None:
    raise RuntimeError("disk on fire")


def test_run_failure_sensor_alerts_a_failed_run(webhook: Webhook) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        (entry,) = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE)
        failure = entry.dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
        ).for_run_failure()
        sensors.alert_on_run_failure(context)
    (body,) = webhook.bodies
    assert body["kind"] == "run_failure"
    assert body["details"]["run_id"] == result.run_id
    assert "failed" in body["summary"]


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="checked")])
def checked() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.ERROR, description="neg"
            )
        ]
    )


CHECKED_DEFS = dg.Definitions(assets=[checked])


def test_check_failure_sensor_alerts_each_failed_evaluation_once(webhook: Webhook) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=CHECKED_DEFS)
        sensors.alert_on_check_failure(context)  # first tick: starts from now
        dg.materialize([checked], instance=instance)
        for _ in range(2):
            sensors.alert_on_check_failure(context)
    (body,) = webhook.bodies
    assert body["kind"] == "check_failure"
    assert body["details"]["check"] == "positive" and body["details"]["severity"] == "ERROR"


def test_check_failures_before_the_first_tick_are_not_replayed(webhook: Webhook) -> None:
    with dg.instance_for_test() as instance:
        dg.materialize([checked], instance=instance)
        context = dg.build_sensor_context(instance=instance, definitions=CHECKED_DEFS)
        sensors.alert_on_check_failure(context)
        sensors.alert_on_check_failure(context)
    assert webhook.bodies == []


def _report(instance: dg.DagsterInstance, feed: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="gex_snapshots", partition=f"{DAY}|{feed}")
    )


def test_quiet_feed_sensor_alerts_once_during_the_session(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("GEX_ALERT_FEED_QUIET_SECONDS", "300")
    reported_ms = time.time_ns() // 1_000_000
    with dg.instance_for_test() as instance:
        _report(instance, "SPX.gex_zero")
        _report(instance, "NDX.gex_zero")
        # the events carry today's wall time; the sensor's clock is moved into the 2025-11-14 session
        offset = SESSION.open_ms + 60 * MINUTE - reported_ms
        monkeypatch.setattr(sensors, "now_ms", lambda: time.time_ns() // 1_000_000 + offset)
        monkeypatch.setattr(sensors, "observe", lambda s, p, at, d: observe(s, p, at + offset, d))
        context = dg.build_sensor_context(instance=instance)
        sensors.alert_on_quiet_feed(context)
        assert webhook.bodies == []  # both just reported
        offset += 6 * MINUTE
        _report(instance, "NDX.gex_zero")  # NDX keeps reporting, SPX is quiet
        offset_report = offset
        monkeypatch.setattr(
            sensors, "observe", lambda s, p, at, d: observe(s, p, at + offset_report, d)
        )
        for _ in range(2):
            sensors.alert_on_quiet_feed(context)
    (body,) = webhook.bodies
    assert body["kind"] == "feed_quiet" and body["details"]["feed"] == "SPX.gex_zero"


def test_no_quiet_feed_alert_outside_the_session() -> None:
    state = FeedState()
    day = __import__("datetime").date.fromisoformat(DAY)
    start_day(state, day)
    observe(state, f"{DAY}|SPX.gex_zero", SESSION.close_ms - MINUTE, day)
    assert newly_quiet(state, SESSION.close_ms + 60 * MINUTE, 5 * MINUTE) == []
    assert newly_quiet(state, SESSION.close_ms - 1, 5 * MINUTE) == []
    observe(state, f"{DAY}|SPX.gex_zero", SESSION.open_ms, day)
    state.last_seen_ms["SPX.gex_zero"] = SESSION.open_ms
    assert newly_quiet(state, SESSION.open_ms + 10 * MINUTE, 5 * MINUTE) == [
        ("SPX.gex_zero", SESSION.open_ms)
    ]
    assert newly_quiet(state, SESSION.open_ms + 11 * MINUTE, 5 * MINUTE) == []  # once
