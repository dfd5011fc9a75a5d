"""A live feed that stops posting during the session is flagged within minutes; outside the
session (before the open, after an early close, on a holiday) it is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest

from gex_pipeline.defs.gex.freshness import (
    GEX_SNAPSHOTS,
    build_freshness_sensor,
    due_session,
    stale_feeds,
)
from gex_pipeline.lib.calendar.trading_date import TRADING_TZ
from gex_pipeline.lib.gex.freshness import judge_feed
from gex_pipeline.lib.ops.alerts import read_alerts
from gex_pipeline.settings import PipelineSettings, Settings

FEED = "SPX.gex_zero"


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=TRADING_TZ).timestamp() * 1000)


@pytest.mark.parametrize(
    ("now", "stale"),
    [
        ((2025, 11, 14, 10, 3), False),  # 3 min silent: within the limit
        ((2025, 11, 14, 10, 5), True),  # 5 min silent during the session
        ((2025, 11, 14, 16, 30), False),  # after the close
        ((2025, 11, 28, 13, 30), False),  # after the 13:00 early close
        ((2025, 11, 27, 11, 0), False),  # Thanksgiving: no session
        ((2025, 11, 15, 11, 0), False),  # Saturday
    ],
)
def test_feed_is_stale_only_when_silent_too_long_during_the_session(now, stale):
    last = _ms(*now[:3], 10, 0) if now[3] >= 10 else None
    verdict = judge_feed(FEED, last, _ms(*now), max_silence_seconds=240)
    assert verdict.stale is stale


def test_silence_before_the_open_counts_from_the_open():
    yesterday_evening = _ms(2025, 11, 13, 16, 0)
    assert not judge_feed(FEED, yesterday_evening, _ms(2025, 11, 14, 9, 32), 180).stale
    assert judge_feed(FEED, yesterday_evening, _ms(2025, 11, 14, 9, 34), 180).stale


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions("feed", [FEED, "NDX.gex_zero"])
        yield instance


def _report(instance: dg.DagsterInstance, partition: str, at_ms: int) -> None:
    with mock.patch("time.time", return_value=at_ms / 1000):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(GEX_SNAPSHOTS, partition=partition)
        )


def test_sensor_flags_a_feed_that_stopped_and_clears_it_when_it_resumes(instance):
    _report(instance, f"2025-11-14|{FEED}", _ms(2025, 11, 14, 10, 0))
    sensor = build_freshness_sensor(PipelineSettings(freshness_max_silence_seconds=180))

    def tick(now_ms: int, cursor: str | None) -> dg.SensorResult:
        with mock.patch("time.time", return_value=now_ms / 1000):
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))

    quiet = tick(_ms(2025, 11, 14, 10, 2), None)
    assert quiet.asset_events == []
    stale = tick(_ms(2025, 11, 14, 10, 4), quiet.cursor)
    (event,) = stale.asset_events
    assert (event.check_name, event.passed, event.partition) == (
        "feed_freshness",
        False,
        f"2025-11-14|{FEED}",
    )
    assert event.metadata["silent_seconds"].value == 240
    assert tick(_ms(2025, 11, 14, 10, 5), stale.cursor).asset_events == []
    _report(instance, f"2025-11-14|{FEED}", _ms(2025, 11, 14, 10, 6))
    (recovered,) = tick(_ms(2025, 11, 14, 10, 7), stale.cursor).asset_events
    assert recovered.passed


def test_sensor_alerts_once_per_quiet_spell(instance, data_dir: Path):
    """A feed that goes stale raises one `feed_quiet` alert; it alerts again only after it
    resumed and went quiet once more. The other feed never alerts."""
    _report(instance, f"2025-11-14|{FEED}", _ms(2025, 11, 14, 10, 0))
    _report(instance, "2025-11-14|NDX.gex_zero", _ms(2025, 11, 14, 10, 0))
    sensor = build_freshness_sensor(PipelineSettings(freshness_max_silence_seconds=180))
    cursor = None
    for minute, ndx_reports in ((2, True), (4, True), (5, True), (6, False), (10, True)):
        if minute == 6:
            _report(instance, f"2025-11-14|{FEED}", _ms(2025, 11, 14, 10, 6))
        if ndx_reports:
            _report(instance, "2025-11-14|NDX.gex_zero", _ms(2025, 11, 14, 10, minute))
        with mock.patch("time.time", return_value=_ms(2025, 11, 14, 10, minute) / 1000):
            cursor = sensor(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
    alerts = read_alerts(Settings.from_env().paths)
    assert [(a["kind"], a["details"]["feed"]) for a in alerts] == [("feed_quiet", FEED)] * 2
    assert alerts[0]["details"]["quiet_seconds"] == 240


def test_feed_of_the_previous_session_that_never_starts_is_stale(instance):
    _report(instance, f"2025-11-13|{FEED}", _ms(2025, 11, 13, 15, 59))
    assert [v.feed for v in stale_feeds(instance, _ms(2025, 11, 14, 9, 40), 180)] == [FEED]
    assert stale_feeds(instance, _ms(2025, 11, 14, 9, 31), 180) == []


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ((2025, 11, 14, 7, 59), "2025-11-12"),  # Friday before 08:00: Thursday not due yet
        ((2025, 11, 14, 8, 0), "2025-11-13"),
        ((2025, 11, 15, 12, 0), "2025-11-13"),  # Saturday: Friday due on Monday
        ((2025, 11, 17, 8, 0), "2025-11-14"),
        ((2025, 11, 27, 12, 0), "2025-11-25"),  # Thanksgiving: Wednesday due on Friday
        ((2025, 11, 28, 8, 0), "2025-11-26"),
    ],
)
def test_exports_are_due_by_eight_on_the_next_session(now, due):
    assert str(due_session(_ms(*now))) == due


def test_sensor_judges_a_session_export_once_after_its_deadline(instance):
    """Thursday's partition: exported after its last change passes; one never exported fails
    once (alerted by alert_sensor) and passes when it is exported."""
    other = "NDX.gex_zero"
    for feed in (FEED, other):
        with mock.patch("time.time", return_value=_ms(2025, 11, 13, 16, 0) / 1000):
            instance.report_runless_asset_event(
                dg.AssetMaterialization("gex_strikes", partition=f"2025-11-13|{feed}")
            )
    with mock.patch("time.time", return_value=_ms(2025, 11, 13, 16, 10) / 1000):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("gex_parquet", partition=f"2025-11-13|{FEED}")
        )
    sensor = build_freshness_sensor(PipelineSettings(freshness_max_silence_seconds=180))

    def tick(now_ms: int, cursor: str | None) -> dg.SensorResult:
        with mock.patch("time.time", return_value=now_ms / 1000):
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))

    early = tick(_ms(2025, 11, 14, 7, 0), None)
    assert [e.check_name for e in early.asset_events] == []
    due = tick(_ms(2025, 11, 14, 8, 1), early.cursor)
    verdicts = {e.partition: e.passed for e in due.asset_events}
    assert verdicts == {f"2025-11-13|{FEED}": True, f"2025-11-13|{other}": False}
    assert tick(_ms(2025, 11, 14, 8, 2), due.cursor).asset_events == []
    with mock.patch("time.time", return_value=_ms(2025, 11, 14, 8, 30) / 1000):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("gex_parquet", partition=f"2025-11-13|{other}")
        )
    (recovered,) = tick(_ms(2025, 11, 14, 8, 31), due.cursor).asset_events
    assert (recovered.partition, recovered.passed) == (f"2025-11-13|{other}", True)


def test_sensor_intervals_and_silence_are_settings():
    settings = Settings.from_env(
        {
            "GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS": "20",
            "GEX_FRESHNESS_MAX_SILENCE_SECONDS": "90",
        }
    ).pipeline
    assert build_freshness_sensor(settings).minimum_interval_seconds == 20
    assert settings.freshness_max_silence_seconds == 90


def test_bad_sensor_interval_is_refused_naming_the_variable():
    with pytest.raises(ValueError, match="GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS"):
        Settings.from_env({"GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS": "0"})


def test_the_webhook_stream_is_judged_like_a_feed(instance, data_dir: Path):
    """`/uw` silent for too long during the session: `stream_freshness` of universal_webhooks
    fails on today's date and one `feed_quiet` alert names the stream; it recovers when it loads."""
    from gex_pipeline.defs.webhooks.assets import UNIVERSAL_WEBHOOKS

    def report(minute: int) -> None:
        with mock.patch("time.time", return_value=_ms(2025, 11, 14, 10, minute) / 1000):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(UNIVERSAL_WEBHOOKS, partition="2025-11-14")
            )

    report(0)
    sensor = build_freshness_sensor(PipelineSettings(freshness_max_silence_seconds=180))

    def tick(minute: int, cursor: str | None) -> dg.SensorResult:
        with mock.patch("time.time", return_value=_ms(2025, 11, 14, 10, minute) / 1000):
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))

    fresh = tick(2, None)
    assert fresh.asset_events == []
    (stale,) = tick(4, fresh.cursor).asset_events
    assert (stale.asset_key, stale.check_name, stale.partition, stale.passed) == (
        UNIVERSAL_WEBHOOKS,
        "stream_freshness",
        "2025-11-14",
        False,
    )
    report(5)
    (recovered,) = tick(6, json.dumps({"stale": ["uw"]})).asset_events
    assert recovered.passed
    alerts = read_alerts(Settings.from_env().paths)
    assert [(a["kind"], a["details"]["feed"]) for a in alerts] == [("feed_quiet", "uw")]


def test_a_quiet_holiday_is_not_judged(instance):
    """Thanksgiving 2025-11-27: no session, so nothing is stale however long the silence."""
    _report(instance, f"2025-11-26|{FEED}", _ms(2025, 11, 26, 15, 59))
    sensor = build_freshness_sensor(PipelineSettings(freshness_max_silence_seconds=180))
    with mock.patch("time.time", return_value=_ms(2025, 11, 27, 12, 0) / 1000):
        result = sensor(dg.build_sensor_context(instance=instance))
    assert result.asset_events == []
    assert stale_feeds(instance, _ms(2025, 11, 27, 12, 0), 180) == []


def test_freshness_checks_run_from_the_ui_record_only_what_they_judge(instance):
    """Run from the UI, `feed_freshness` and `stream_freshness` judge today's partition during the
    session (stale after the allowed silence) and give no verdict for another day."""
    from gex_pipeline.defs.gex.freshness import judge_partition
    from gex_pipeline.defs.webhooks.assets import UNIVERSAL_WEBHOOKS
    from gex_pipeline.defs.webhooks.freshness import judge_day

    _report(instance, f"2025-11-14|{FEED}", _ms(2025, 11, 14, 10, 0))
    with mock.patch("time.time", return_value=_ms(2025, 11, 14, 10, 0) / 1000):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(UNIVERSAL_WEBHOOKS, partition="2025-11-14")
        )
    later = _ms(2025, 11, 14, 10, 5)
    selected = {"feed_freshness", "parquet_freshness", "stream_freshness"}
    (feed,) = judge_partition(instance, f"2025-11-14|{FEED}", selected, later, 180)
    assert (feed.check_name, feed.partition, feed.passed) == (
        "feed_freshness",
        f"2025-11-14|{FEED}",
        False,
    )
    (stream,) = judge_day(instance, "2025-11-14", selected, later, 180)
    assert (stream.check_name, stream.partition, stream.passed) == (
        "stream_freshness",
        "2025-11-14",
        False,
    )
    assert list(judge_day(instance, "2025-11-13", selected, later, 180)) == []
    (fresh,) = judge_day(instance, "2025-11-14", selected, later, 420)
    assert fresh.passed
