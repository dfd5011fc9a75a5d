"""Freshness in Dagster: `feed_freshness` of `gex_snapshots`, `parquet_freshness` of `gex_parquet`.

Both are calendar-aware checks per date x feed partition, recorded only by whoever judges them:
- `gex_freshness_sensor` looks, every `GEX_FRESHNESS_SENSOR_INTERVAL_SECONDS`, at the latest
  `gex_snapshots` materialization of each watched feed (the live loader reports one about once a
  minute while data flows) and records `feed_freshness` on today's partition when a feed becomes
  stale (WARN, failed) or recovers (passed), with one `feed_quiet` alert (`lib.ops.alerts`) each
  time a feed becomes stale. `stale_feeds` is the same verdict as a plain function.
- The same sensor records `parquet_freshness` once the deadline of a session's partitions has
  passed (08:00 New York on the next session, so a holiday or a weekend is never late): passed when
  the partition was exported after its last change, failed otherwise, and again when it recovers.
  Materializations carried over by run retention count at their original time.
`freshness_checks` lets the UI run either check for a partition: it records a verdict only when
there is one to give (today's session for a feed, a passed deadline for an export), else nothing.
"""

# No `from __future__ import annotations` below the docstring: Dagster reads the context type from
# the annotations of decorated functions when the definitions load.
import json
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import dagster as dg

from gex_pipeline.defs.freshness import (
    freshness_checks,
    freshness_evaluation,
    latest_record,
    latest_report_ms,
    watched_report,
)
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline.defs.ops.run_retention import event_time
from gex_pipeline.defs.partitions import FEED_PARTITIONS_NAME, gex_partitions
from gex_pipeline.defs.webhooks.freshness import WEBHOOK_STREAM, stream_evaluation, watched_stream
from gex_pipeline.lib.calendar.sessions import previous_session, sessions_between
from gex_pipeline.lib.calendar.trading_date import TRADING_TZ, date_key, trading_date_of
from gex_pipeline.lib.gex.freshness import FeedFreshness, judge_feed
from gex_pipeline.lib.ops.alerts import send_alert
from gex_pipeline.settings import PipelineSettings

FEED_FRESHNESS = "feed_freshness"
PARQUET_FRESHNESS = "parquet_freshness"
# A session's partitions are due in Parquet by this New York hour of the next session.
EXPORT_DEADLINE_HOUR = 8


def watched_feeds(instance: dg.DagsterInstance, now_ms: int) -> dict[str, int | None]:
    """Feeds that reported today or on the previous session, with today's latest report."""
    watched: dict[str, int | None] = {}
    for feed in instance.get_dynamic_partitions(FEED_PARTITIONS_NAME):
        held, seen = watched_report(
            instance, GEX_SNAPSHOTS, now_ms, lambda day, feed=feed: f"{day}|{feed}"
        )
        if held:
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


def feed_evaluation(verdict: FeedFreshness, partition_key: str) -> dg.AssetCheckEvaluation:
    """The `feed_freshness` check evaluation of one verdict (reported by the sensor)."""
    return freshness_evaluation(GEX_SNAPSHOTS, FEED_FRESHNESS, verdict, partition_key)


def export_deadline_ms(day: date) -> int | None:
    """When partitions of session `day` are due in Parquet: 08:00 New York on the next session
    (None when the calendar does not know it yet)."""
    later = sessions_between(day + timedelta(days=1), day + timedelta(days=14))
    if not later:
        return None
    due = datetime(*later[0].day.timetuple()[:3], EXPORT_DEADLINE_HOUR, tzinfo=TRADING_TZ)
    return int(due.timestamp() * 1000)


def due_session(now_ms: int) -> date | None:
    """The latest session whose export deadline has passed at `now_ms`."""
    held = previous_session(trading_date_of(now_ms))
    if held is None:
        return None
    deadline = export_deadline_ms(held.day)
    if deadline is not None and now_ms >= deadline:
        return held.day
    before = previous_session(held.day)
    return before.day if before else None


def export_evaluation(
    instance: dg.DagsterInstance, partition: str, deadline_ms: int
) -> dg.AssetCheckEvaluation | None:
    """`parquet_freshness` of one partition past its deadline: exported after its last change?
    None when the tables hold nothing for it (nothing to export)."""
    changed = latest_record(instance, GEX_STRIKES, partition)
    if changed is None:
        return None
    exported = latest_record(instance, GEX_PARQUET, partition)
    changed_at = event_time(changed)
    exported_at = event_time(exported) if exported is not None else None
    metadata: dict[str, dg.MetadataValue] = {
        "judged": dg.MetadataValue.bool(True),
        "deadline": dg.MetadataValue.timestamp(deadline_ms / 1000),
        "last_change": dg.MetadataValue.timestamp(changed_at),
    }
    if exported_at is not None:
        metadata["last_export"] = dg.MetadataValue.timestamp(exported_at)
    return dg.AssetCheckEvaluation(
        asset_key=GEX_PARQUET,
        check_name=PARQUET_FRESHNESS,
        passed=exported_at is not None and exported_at >= changed_at,
        severity=dg.AssetCheckSeverity.WARN,
        partition=partition,
        metadata=metadata,
    )


@dataclass
class ExportJudged:
    """The session whose partitions were last judged for `parquet_freshness`, and the late ones."""

    day: str = ""
    late: list[str] = field(default_factory=list)


def judge_exports(
    instance: dg.DagsterInstance, now_ms: int, judged: ExportJudged
) -> list[dg.AssetCheckEvaluation]:
    """`parquet_freshness` evaluations to record now: every partition of a session whose deadline
    just passed, then only the late ones that were exported since; updates `judged`."""
    day = due_session(now_ms)
    deadline = export_deadline_ms(day) if day is not None else None
    if day is None or deadline is None:
        return []
    if judged.day != date_key(day):
        feeds = instance.get_dynamic_partitions(FEED_PARTITIONS_NAME)
        partitions = [f"{date_key(day)}|{feed}" for feed in sorted(feeds)]
        judged.day, judged.late = date_key(day), []
        fresh = True
    else:
        partitions, fresh = list(judged.late), False
    events = []
    for partition in partitions:
        verdict = export_evaluation(instance, partition, deadline)
        if verdict is None:
            continue
        if not verdict.passed and partition not in judged.late:
            judged.late.append(partition)
        if verdict.passed and partition in judged.late:
            judged.late.remove(partition)
        if fresh or verdict.passed:
            events.append(verdict)
    return events


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


@dataclass
class FreshnessCursor:
    """Feeds and streams stale at the last tick; the exports judged last."""

    stale: list[str] = field(default_factory=list)
    exports: ExportJudged = field(default_factory=ExportJudged)

    @classmethod
    def parse(cls, raw: str | None) -> "FreshnessCursor":
        data = json.loads(raw) if raw else {}
        if isinstance(data, list):  # the cursor before exports were judged: the stale set
            return cls(stale=data)
        return cls(data.get("stale", []), ExportJudged(**data.get("exports", {})))

    def dump(self) -> str:
        return json.dumps({"stale": self.stale, "exports": asdict(self.exports)}, sort_keys=True)


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
        alert when it goes stale; judge the exports of a session once their deadline passed."""
        now_ms = int(time.time() * 1000)
        cursor = FreshnessCursor.parse(context.cursor)
        today = date_key(trading_date_of(now_ms))
        silence = settings.freshness_max_silence_seconds
        watched = [
            (judge_feed(feed, seen, now_ms, silence), f"{today}|{feed}", feed_evaluation)
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
            if verdict.stale != (verdict.feed in cursor.stale):
                events.append(evaluation(verdict, partition))
                if verdict.stale:
                    alert_quiet(verdict)
        cursor.stale = sorted(stale)
        events += judge_exports(context.instance, now_ms, cursor.exports)
        if not events:
            reason = f"stale: {', '.join(sorted(stale))}" if stale else "no feed changed state"
            return dg.SensorResult(skip_reason=reason, cursor=cursor.dump())
        return dg.SensorResult(asset_events=events, cursor=cursor.dump())

    return gex_freshness_sensor


freshness_check_specs = [
    dg.AssetCheckSpec(
        FEED_FRESHNESS,
        asset=GEX_SNAPSHOTS,
        partitions_def=gex_partitions,
        description="A live feed reports at least every GEX_FRESHNESS_MAX_SILENCE_SECONDS during "
        "today's session (judged only then; recorded by gex_freshness_sensor).",
    ),
    dg.AssetCheckSpec(
        PARQUET_FRESHNESS,
        asset=GEX_PARQUET,
        partitions_def=gex_partitions,
        description="A session's partition is exported after its last change by 08:00 New York "
        "on the next session (recorded by gex_freshness_sensor once the deadline passed).",
    ),
]


def judge_partition(
    instance: dg.DagsterInstance, key: str, selected: Collection[str], now_ms: int, silence: int
) -> Iterator[dg.AssetCheckEvaluation]:
    """The verdicts there are for one partition now: `feed_freshness` on today's session only,
    `parquet_freshness` past the export deadline only."""
    day, _, feed = key.partition("|")
    if FEED_FRESHNESS in selected and day == date_key(trading_date_of(now_ms)):
        seen = latest_report_ms(instance, GEX_SNAPSHOTS, key)
        verdict = judge_feed(feed, seen, now_ms, silence)
        if verdict.judged:
            yield feed_evaluation(verdict, key)
    deadline = export_deadline_ms(date.fromisoformat(day))
    if PARQUET_FRESHNESS in selected and deadline is not None and now_ms >= deadline:
        exported = export_evaluation(instance, key, deadline)
        if exported is not None:
            yield exported


gex_freshness_checks = freshness_checks(
    "gex_freshness_checks",
    freshness_check_specs,
    "Judges feed_freshness (today's session only) and parquet_freshness (past the deadline only) "
    "for the run's partitions; records nothing where there is no verdict.",
    judge_partition,
)
