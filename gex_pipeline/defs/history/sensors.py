"""`gex_history_sensor`: picks up posted day-file links promptly (signed links expire).

Each tick lists `staging/history/requests/`, takes the requests posted after the cursor (a
high-water mark of `last_posted_at` plus the ids already seen at that instant), registers their
feed partitions and requests one `gex_history_job` run per request. The run key is
(request id, post count): posts of the same file collapse into one request; a re-post while the
request's run is still queued adds no run (that run reads the newest link when it starts), and a
re-post after a run started (e.g. after a failure or an expiry) starts a new attempt. The sensor never opens DuckDB
and never handles the signed URL.

The same tick observes the staging sources (`staging/gex`, `staging/uw`, `staging/history_requests`):
segments or requests waiting and the age of the oldest, recorded as an `AssetObservation` when the
figures changed, at most every `OBSERVE_SECONDS`, so the UI shows the backlog without the event log
growing with every sealed segment.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import dagster as dg

from gex_pipeline.defs.gex.keys import GEX_STAGING_STREAM, HISTORY_REQUESTS
from gex_pipeline.defs.history.assets import REQUEST_TAG
from gex_pipeline.defs.history.jobs import gex_history_job
from gex_pipeline.defs.partitions import (
    FEED_PARTITIONS_NAME,
    PARTITIONS_START_DATE,
    feed_partitions,
    gex_partition_key,
    is_partition_date,
)
from gex_pipeline.lib.calendar.trading_date import feed_key
from gex_pipeline.lib.staging.history_store import HistoryStore, StoredRequest
from gex_pipeline.settings import HistorySettings, PathSettings, Settings

OBSERVE_SECONDS = 300
# Request files older than the high-water mark by more than this are not even opened.
MTIME_SLACK_MS = 60_000
# A run in these states has not read the signed URL yet: it will use the newest post.
_NOT_YET_RUNNING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


@dataclass
class HistoryCursor:
    """Newest `last_posted_at` handed to a run, and the request ids posted at that instant."""

    high_water_ms: int = 0
    ids_at_mark: list[str] = field(default_factory=list)
    observed: dict[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> HistoryCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data["hwm"]), list(data["ids"]), dict(data.get("observed", {})))

    def dump(self) -> str:
        return json.dumps(
            {"hwm": self.high_water_ms, "ids": sorted(self.ids_at_mark), "observed": self.observed},
            sort_keys=True,
        )

    def is_new(self, request: StoredRequest) -> bool:
        posted = request.last_posted_at
        return posted > self.high_water_ms or (
            posted == self.high_water_ms and request.id not in self.ids_at_mark
        )

    def advance(self, request: StoredRequest) -> None:
        posted = request.last_posted_at
        if posted > self.high_water_ms:
            self.high_water_ms, self.ids_at_mark = posted, [request.id]
        elif posted == self.high_water_ms and request.id not in self.ids_at_mark:
            self.ids_at_mark.append(request.id)


def history_run_key(request: StoredRequest) -> str:
    """Run key of one post of a request (stable when a tick is retried)."""
    return f"gex_history:{request.id}:{request.post_count}"


def new_requests(store: HistoryStore, cursor: HistoryCursor) -> list[StoredRequest]:
    """Requests posted after `cursor`, oldest post first."""
    found = []
    for request_id in store.list_request_ids():
        path = store.dirs.requests / f"{request_id}.json"
        try:
            mtime_ms = path.stat().st_mtime_ns // 1_000_000
        except FileNotFoundError:
            continue
        if mtime_ms < cursor.high_water_ms - MTIME_SLACK_MS:
            continue
        request = store.load_request(request_id)
        if request is not None and cursor.is_new(request):
            found.append(request)
    return sorted(found, key=lambda r: (r.last_posted_at, r.id))


def has_waiting_run(instance: dg.DagsterInstance, request_id: str) -> bool:
    """True when a run for `request_id` is queued or starting (it will read the newest link)."""
    filters = dg.RunsFilter(tags={REQUEST_TAG: request_id}, statuses=_NOT_YET_RUNNING)
    return bool(instance.get_run_records(filters=filters, limit=1))


def partition_problem(request: StoredRequest) -> str | None:
    """Why `request` has no date x feed partition (bad feed, date out of range), or None."""
    try:
        feed_key(request.ticker, request.endpoint)
    except ValueError as exc:
        return str(exc)
    if not is_partition_date(request.trade_date):
        return (
            f"trade date {request.trade_date} is not a date partition: partitions are NYSE "
            f"sessions from {PARTITIONS_START_DATE} to today (no weekends, no holidays)"
        )
    return None


def feed_bound_problem(request: StoredRequest, feeds: set[str], max_feeds: int) -> str | None:
    """Why `request` may not add a feed partition (`GEX_HISTORY_MAX_FEEDS` reached), or None."""
    feed = feed_key(request.ticker, request.endpoint)
    if feed in feeds or len(feeds) < max_feeds:
        return None
    return f"feed {feed} would be feed number {len(feeds) + 1}, more than GEX_HISTORY_MAX_FEEDS"


def staging_observations(
    paths: PathSettings, cursor: HistoryCursor, now_ms: int
) -> list[dg.AssetObservation]:
    """Backlog observations of the staging sources whose figures changed since the last ones,
    at most every `OBSERVE_SECONDS` (the figures are kept in `cursor.observed`)."""
    from gex_pipeline.defs.webhooks.assets import UW_STAGING_STREAM
    from gex_pipeline.lib.ops.health import staging_backlog
    from gex_pipeline.lib.staging.layout import stream_dirs
    from gex_pipeline.lib.staging.reader import list_processed, list_sealed

    if now_ms - int(str(cursor.observed.get("at_ms", 0))) < OBSERVE_SECONDS * 1000:
        return []
    backlog = staging_backlog(paths, now_ns=now_ms * 1_000_000)
    figures: dict[str, dict[str, object]] = {
        GEX_STAGING_STREAM.to_user_string(): backlog["gex"],
        UW_STAGING_STREAM.to_user_string(): backlog["uw"],
        HISTORY_REQUESTS.to_user_string(): {
            "requests_unfinished": backlog["history_requests_unfinished"]
        },
    }
    for stream, key in (("gex", GEX_STAGING_STREAM), ("uw", UW_STAGING_STREAM)):
        dirs = stream_dirs(paths.staging_dir, stream)
        newest = [s.seq for s in (*list_sealed(dirs)[-1:], *list_processed(dirs)[-1:])]
        if newest:
            figures[key.to_user_string()]["last_arrival_ms"] = max(newest) // 1_000_000
    events = []
    for key in (GEX_STAGING_STREAM, UW_STAGING_STREAM, HISTORY_REQUESTS):
        name = key.to_user_string()
        if cursor.observed.get(name) == figures[name]:
            continue
        metadata: dict[str, dg.MetadataValue] = {
            k: dg.MetadataValue.float(float(v)) for k, v in figures[name].items() if v is not None
        }
        if "last_arrival_ms" in metadata:
            arrival = float(figures[name]["last_arrival_ms"]) / 1000
            metadata["last_arrival"] = dg.MetadataValue.timestamp(arrival)
        events.append(dg.AssetObservation(key, metadata=metadata))
    cursor.observed = {**figures, "at_ms": now_ms}
    return events


def build_history_sensor(paths: PathSettings, history: HistorySettings) -> dg.SensorDefinition:
    """The request sensor over the requests under `paths`, ticking every
    `history.sensor_interval_seconds` and adding at most `history.max_feeds` feeds."""

    @dg.sensor(
        name="gex_history_sensor",
        job=gex_history_job,
        minimum_interval_seconds=history.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One gex_history_job run (import + Parquet) per posted day-file link (/gex_history_url).",
    )
    def gex_history_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        store = HistoryStore(paths.data_dir, paths.secrets_dir)
        cursor = HistoryCursor.parse(context.cursor)
        now_ms = int(time.time() * 1000)
        observations = staging_observations(paths, cursor, now_ms)
        requests = new_requests(store, cursor)
        if not requests:
            return dg.SensorResult(
                skip_reason=f"no day-file link posted after {cursor.high_water_ms} (epoch ms)",
                asset_events=observations,
                cursor=cursor.dump(),
            )
        runs, feeds = [], set()
        known = set(context.instance.get_dynamic_partitions(FEED_PARTITIONS_NAME))
        for request in requests:
            cursor.advance(request)
            problem = partition_problem(request) or feed_bound_problem(
                request, known | feeds, history.max_feeds
            )
            if problem is not None:
                context.log.warning("history request %s refused: %s", request.id, problem)
                store.write_status(request.id, "failed", now_ms=now_ms, reason=problem)
                continue
            if has_waiting_run(context.instance, request.id):
                context.log.info(
                    "history request %s re-posted: its queued run will use it", request.id
                )
                continue
            feeds.add(feed_key(request.ticker, request.endpoint))
            runs.append(
                dg.RunRequest(
                    run_key=history_run_key(request),
                    partition_key=gex_partition_key(
                        request.trade_date, request.ticker, request.endpoint
                    ),
                    tags={REQUEST_TAG: request.id},
                )
            )
            store.write_status(request.id, "pending", now_ms=now_ms)
        new_feeds = sorted(feeds - known)
        return dg.SensorResult(
            run_requests=runs,
            asset_events=observations,
            dynamic_partitions_requests=(
                [feed_partitions.build_add_request(new_feeds)] if new_feeds else []
            ),
            cursor=cursor.dump(),
        )

    return gex_history_sensor


def build_history_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """Every sensor of the history domain."""
    return [build_history_sensor(settings.paths, settings.history)]
