"""Freshness of live feeds during the session: a feed silent for too long is stale.

Judged against the exchange calendar: only between today's session open and close (early closes
included); never on weekends, holidays or outside the session. Silence is counted from the last
report of the feed, or from the open when it last reported before it (or not at all today).
"""

from __future__ import annotations

from dataclasses import dataclass

from gex_pipeline.lib.calendar.sessions import Session, session
from gex_pipeline.lib.calendar.trading_date import trading_date_of


@dataclass(frozen=True)
class FeedFreshness:
    """Verdict on one feed at `now_ms`: `judged` is False outside the session (never stale)."""

    feed: str
    judged: bool
    stale: bool
    last_seen_ms: int | None
    silent_seconds: int | None
    session: Session | None


def session_in_progress(now_ms: int) -> Session | None:
    """Today's session when `now_ms` lies between its open and its close, else None."""
    held = session(trading_date_of(now_ms))
    if held is None or not held.open_ms <= now_ms < held.close_ms:
        return None
    return held


def judge_feed(
    feed: str, last_seen_ms: int | None, now_ms: int, max_silence_seconds: int
) -> FeedFreshness:
    """Is `feed`, last heard of at `last_seen_ms`, stale at `now_ms`?"""
    held = session_in_progress(now_ms)
    if held is None:
        return FeedFreshness(feed, False, False, last_seen_ms, None, None)
    since = max(last_seen_ms or 0, held.open_ms)
    silent = (now_ms - since) // 1000
    return FeedFreshness(feed, True, silent > max_silence_seconds, last_seen_ms, silent, held)
