"""Freshness of the `/uw` webhook stream: the `stream_freshness` check of `universal_webhooks`.

The stream is judged like a live GEX feed (`lib.gex.freshness.judge_feed`, the exchange calendar):
only during today's session, and only when it loaded today or on the previous session. The
freshness sensor (`defs/gex/freshness.py`) records the check when the stream goes stale or
recovers. Run from the UI, the check records a verdict only for today's date during the session,
and nothing otherwise (no verdict is no "passed").
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

import dagster as dg

from gex_pipeline.defs.freshness import (
    freshness_checks,
    freshness_evaluation,
    latest_report_ms,
    watched_report,
)
from gex_pipeline.defs.partitions import trading_date_partitions
from gex_pipeline.defs.webhooks.assets import UNIVERSAL_WEBHOOKS
from gex_pipeline.lib.calendar.trading_date import date_key, trading_date_of
from gex_pipeline.lib.gex.freshness import FeedFreshness, judge_feed

STREAM_FRESHNESS = "stream_freshness"
WEBHOOK_STREAM = "uw"


def watched_stream(instance: dg.DagsterInstance, now_ms: int) -> tuple[bool, int | None]:
    """Whether the stream is watched (it loaded today or on the previous session) and its
    latest report today."""
    return watched_report(instance, UNIVERSAL_WEBHOOKS, now_ms)


def stream_evaluation(verdict: FeedFreshness, day_key: str) -> dg.AssetCheckEvaluation:
    """The `stream_freshness` evaluation of one verdict (reported by the freshness sensor)."""
    return freshness_evaluation(UNIVERSAL_WEBHOOKS, STREAM_FRESHNESS, verdict, day_key)


def judge_day(
    instance: dg.DagsterInstance, day: str, selected: Collection[str], now_ms: int, silence: int
) -> Iterator[dg.AssetCheckEvaluation]:
    """The stream's verdict on `day` when it is today during the session; none otherwise."""
    if STREAM_FRESHNESS in selected and day == date_key(trading_date_of(now_ms)):
        seen = latest_report_ms(instance, UNIVERSAL_WEBHOOKS, day)
        verdict = judge_feed(WEBHOOK_STREAM, seen, now_ms, silence)
        if verdict.judged:
            yield stream_evaluation(verdict, day)


stream_freshness = freshness_checks(
    "stream_freshness_check",
    [
        dg.AssetCheckSpec(
            STREAM_FRESHNESS,
            asset=UNIVERSAL_WEBHOOKS,
            partitions_def=trading_date_partitions,
            description="The /uw stream loads at least every GEX_FRESHNESS_MAX_SILENCE_SECONDS "
            "during today's session once it loaded today or on the previous session (judged only "
            "then; recorded by gex_freshness_sensor).",
        )
    ],
    "Judges the /uw stream's freshness on today's date during the session; records nothing "
    "otherwise.",
    judge_day,
)
