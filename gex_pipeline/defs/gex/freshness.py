"""Live feed freshness in Dagster: the `feed_freshness` check of `gex_snapshots` per partition.

`gex_freshness_sensor` looks, every `GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS`, at the latest
`gex_snapshots` materialization of each watched feed (the live loader reports one about once a
minute while data flows) and records a `feed_freshness` check evaluation on today's partition when
a feed becomes stale (WARN, failed) or recovers (passed), and sends one `feed_quiet` alert
(`lib.ops.alerts`) each time a feed becomes stale. `stale_feeds` is the same verdict as a plain
function: call it with the instance and the time.
"""

from __future__ import annotations

import json
import time

import dagster as dg

from gex_pipeline.defs.metadata import freshness_metadata
from gex_pipeline.defs.partitions import FEED_PARTITIONS_NAME
from gex_pipeline.defs.webhooks.freshness import WEBHOOK_STREAM, stream_evaluation, watched_stream
from gex_pipeline.lib.calendar.sessions import previous_session
from gex_pipeline.lib.calendar.trading_date import date_key, trading_date_of
from gex_pipeline.lib.gex.freshness import FeedFreshness, judge_feed
from gex_pipeline.lib.ops.alerts import send_alert
from gex_pipeline.settings import PipelineSettings

GEX_SNAPSHOTS = dg.AssetKey("gex_snapshots")
FEED_FRESHNESS = "feed_freshness"


def latest_report_ms(instance: dg.DagsterInstance, partition_key: str) -> int | None:
    """Epoch ms of the latest `gex_snapshots` materialization of one partition, or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(GEX_SNAPSHOTS, asset_partitions=[partition_key]),
        limit=1,
        ascending=False,
    ).records
    return int(records[0].timestamp * 1000) if records else None


def watched_feeds(instance: dg.DagsterInstance, now_ms: int) -> dict[str, int | None]:
    """Feeds that reported today or on the previous session, with today's latest report."""
    today = trading_date_of(now_ms)
    before = previous_session(today)
    watched: dict[str, int | None] = {}
    for feed in instance.get_dynamic_partitions(FEED_PARTITIONS_NAME):
        seen = latest_report_ms(instance, f"{date_key(today)}|{feed}")
        if seen is not None or (
            before is not None and latest_report_ms(instance, f"{date_key(before.day)}|{feed}")
        ):
            watched[feed] = seen
    return watched


def stale_feeds(
    instance: dg.DagsterInstance, now_ms: int, max_silence_seconds: int
) -> list[FeedFreshness]:
    """Watched feeds silent for more than `max_silence_seconds` during today's session."""
    verdicts = [
        judge_feed(feed, seen, now_ms, max_silence_seconds)
        for feed, seen in sorted(watched_feeds(instance, now_ms).items())
    ]
    return [v for v in verdicts if v.stale]


def freshness_result(
    instance: dg.DagsterInstance, partition_key: str, now_ms: int, max_silence_seconds: int
) -> dg.AssetCheckResult:
    """`feed_freshness` of one partition: judged only for today's partition during the session."""
    day, _, feed = partition_key.partition("|")
    if day != date_key(trading_date_of(now_ms)):
        verdict = FeedFreshness(feed, False, False, None, None, None)
    else:
        seen = latest_report_ms(instance, partition_key)
        verdict = judge_feed(feed, seen, now_ms, max_silence_seconds)
    return dg.AssetCheckResult(
        asset_key=GEX_SNAPSHOTS,
        check_name=FEED_FRESHNESS,
        passed=not verdict.stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=freshness_metadata(verdict),
    )


def freshness_evaluation(verdict: FeedFreshness, partition_key: str) -> dg.AssetCheckEvaluation:
    """The `feed_freshness` check evaluation of one verdict (reported by the sensor)."""
    return dg.AssetCheckEvaluation(
        asset_key=GEX_SNAPSHOTS,
        check_name=FEED_FRESHNESS,
        passed=not verdict.stale,
        severity=dg.AssetCheckSeverity.WARN,
        partition=partition_key,
        metadata=freshness_metadata(verdict),
    )


def alert_quiet(verdict: FeedFreshness) -> None:
    """The `feed_quiet` alert of a feed that just became stale."""
    send_alert(
        "feed_quiet",
        f"live feed {verdict.feed} has not loaded for {verdict.silent_seconds}s during the session",
        {
            "feed": verdict.feed,
            "last_loaded_ms": verdict.last_seen_ms,
            "quiet_seconds": verdict.silent_seconds,
        },
    )


def build_freshness_sensor(settings: PipelineSettings) -> dg.SensorDefinition:
    """The freshness sensor, ticking every `settings.freshness_sensor_interval_seconds`."""

    @dg.sensor(
        name="gex_freshness_sensor",
        minimum_interval_seconds=settings.freshness_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Flags and alerts a live GEX feed or the /uw stream silent for "
        "GEX_FRESHNESS_MAX_SILENCE_SECONDS during the session (feed_freshness of gex_snapshots, "
        "stream_freshness of universal_webhooks, feed_quiet alert).",
    )
    def gex_freshness_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Record the freshness check of a watched feed or stream when it goes stale or recovers,
        alert when it goes stale (cursor: the stale set)."""
        now_ms = int(time.time() * 1000)
        was_stale = set(json.loads(context.cursor or "[]"))
        today = date_key(trading_date_of(now_ms))
        silence = settings.freshness_max_silence_seconds
        watched = [
            (judge_feed(feed, seen, now_ms, silence), f"{today}|{feed}", freshness_evaluation)
            for feed, seen in sorted(watched_feeds(context.instance, now_ms).items())
        ]
        stream_watched, stream_seen = watched_stream(context.instance, now_ms)
        if stream_watched:
            verdict = judge_feed(WEBHOOK_STREAM, stream_seen, now_ms, silence)
            watched.append((verdict, today, stream_evaluation))
        events = []
        stale: set[str] = set()
        for verdict, partition, evaluation in watched:
            if verdict.stale:
                stale.add(verdict.feed)
                context.log.warning("%s silent for %ss", verdict.feed, verdict.silent_seconds)
            if verdict.stale != (verdict.feed in was_stale):
                events.append(evaluation(verdict, partition))
                if verdict.stale:
                    alert_quiet(verdict)
        cursor = json.dumps(sorted(stale))
        if not events:
            reason = f"stale: {', '.join(sorted(stale))}" if stale else "no feed changed state"
            return dg.SensorResult(skip_reason=reason, cursor=cursor)
        return dg.SensorResult(asset_events=events, cursor=cursor)

    return gex_freshness_sensor
