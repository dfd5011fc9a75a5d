"""Alerts reach alerts.log and a local webhook: run failures, check failures, quiet feeds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.ops import sensors
from gex_pipeline.lib.calendar.sessions import session
from gex_pipeline.lib.ops.alerts import read_alerts, send_alert
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
    assert send_alert("feed_quiet", "feed SPX.gex_zero quiet", {"feed": "SPX.gex_zero"})
    (body,) = webhook.bodies
    assert body["kind"] == "feed_quiet" and body["details"] == {"feed": "SPX.gex_zero"}
    (line,) = read_alerts(settings.paths)
    assert line["summary"] == "feed SPX.gex_zero quiet" and line["webhook"] == "sent"


def test_without_a_webhook_the_alert_is_only_logged(data_dir: Path, settings: Settings) -> None:
    assert not send_alert("feed_quiet", "x")
    assert read_alerts(settings.paths)[0]["webhook"] == "not configured"


def test_a_failing_webhook_is_recorded_not_raised(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    hook = Webhook(status=500)
    monkeypatch.setenv("GEX_ALERT_WEBHOOK_URL", hook.url)
    try:
        assert not send_alert("feed_quiet", "x")
    finally:
        hook.close()
    assert read_alerts(settings.paths)[0]["webhook"] == "failed: HTTP 500"


@dg.asset
def broken() -> None:
    raise RuntimeError("disk on fire")


BROKEN_DEFS = dg.Definitions(assets=[broken])


def _tick(context: dg.SensorEvaluationContext) -> None:
    sensors.alert_sensor(context)


def test_alert_sensor_alerts_a_failed_run_once(webhook: Webhook) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=BROKEN_DEFS)
        _tick(context)  # first tick: starts from now
        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        for _ in range(2):
            _tick(context)
    (body,) = webhook.bodies
    assert body["kind"] == "run_failure"
    assert body["details"]["run_id"] == result.run_id
    assert body["details"]["job"] == "__ephemeral_asset_job__"
    assert "failed" in body["summary"]


def test_runs_failed_before_the_first_tick_are_not_replayed(webhook: Webhook) -> None:
    with dg.instance_for_test() as instance:
        dg.materialize([broken], instance=instance, raise_on_error=False)
        context = dg.build_sensor_context(instance=instance, definitions=BROKEN_DEFS)
        _tick(context)
        _tick(context)
    assert webhook.bodies == []


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
        _tick(context)  # first tick: starts from now
        dg.materialize([checked], instance=instance)
        for _ in range(2):
            _tick(context)
    (body,) = webhook.bodies
    assert body["kind"] == "check_failure"
    assert body["details"]["check"] == "positive" and body["details"]["severity"] == "ERROR"


def test_check_failures_before_the_first_tick_are_not_replayed(webhook: Webhook) -> None:
    with dg.instance_for_test() as instance:
        dg.materialize([checked], instance=instance)
        context = dg.build_sensor_context(instance=instance, definitions=CHECKED_DEFS)
        _tick(context)
        _tick(context)
    assert webhook.bodies == []


@dg.asset(check_specs=[dg.AssetCheckSpec("feed_freshness", asset="quiet")])
def quiet() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)]
    )


def test_failed_freshness_is_left_to_the_freshness_sensor(webhook: Webhook) -> None:
    """`feed_freshness` failures are alerted as `feed_quiet` by the freshness sensor, not twice."""
    with dg.instance_for_test() as instance:
        defs = dg.Definitions(assets=[quiet, checked])
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        _tick(context)
        dg.materialize([quiet, checked], instance=instance)
        _tick(context)
    assert [b["details"]["check"] for b in webhook.bodies] == ["positive"]


DAYS = dg.StaticPartitionsDefinition(["2025-11-13", "2025-11-14"])


@dg.asset(partitions_def=DAYS, check_specs=[dg.AssetCheckSpec("complete", asset="daily")])
def daily() -> dg.MaterializeResult:
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=False)])


def test_every_failed_partition_of_one_check_is_alerted(webhook: Webhook) -> None:
    """Two failures of the same check between ticks: the latest-per-check lookup must not hide
    the older one."""
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, definitions=dg.Definitions(assets=[daily])
        )
        _tick(context)
        runs = {
            dg.materialize([daily], instance=instance, partition_key=day).run_id
            for day in DAYS.get_partition_keys()
        }
        _tick(context)
        _tick(context)
    assert sorted(b["details"]["run_id"] for b in webhook.bodies) == sorted(runs)
