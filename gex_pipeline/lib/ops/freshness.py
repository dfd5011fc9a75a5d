"""Which live feeds went quiet during the session: the pure part of the quiet-feed alert.

State (kept in the sensor's cursor as JSON): the session day, the newest materialization time of
each feed seen that day, and the feeds already alerted (one alert per quiet spell; a feed that
reports again can alert again later). Outside the session nothing is ever quiet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from gex_pipeline.lib.calendar.sessions import session
from gex_pipeline.lib.calendar.trading_date import trading_date_of


@dataclass
class FeedState:
    """What the quiet-feed sensor remembers between ticks."""

    day: str = ""
    after_storage_id: int = 0
    last_seen_ms: dict[str, int] = field(default_factory=dict)
    alerted: list[str] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def loads(cls, cursor: str | None) -> FeedState:
        return cls(**json.loads(cursor)) if cursor else cls()


def observe(state: FeedState, partition: str | None, at_ms: int, today: date) -> None:
    """Record a materialization of `partition` (`YYYY-MM-DD|feed`) at `at_ms`, if it is today's."""
    day, sep, feed = (partition or "").partition("|")
    if sep and day == today.isoformat():
        state.last_seen_ms[feed] = max(at_ms, state.last_seen_ms.get(feed, 0))


def start_day(state: FeedState, today: date) -> None:
    """Forget yesterday's feeds when the day changes."""
    if state.day != today.isoformat():
        state.day, state.last_seen_ms, state.alerted = today.isoformat(), {}, []


def newly_quiet(state: FeedState, now_ms: int, quiet_ms: int) -> list[tuple[str, int]]:
    """Feeds quiet for `quiet_ms` during today's session, not alerted yet: (feed, last seen ms).

    Feeds that reported again leave `alerted`. Outside the session (and on non-session days) the
    answer is empty.
    """
    today = trading_date_of(now_ms)
    sess = session(today)
    state.alerted = [f for f in state.alerted if now_ms - state.last_seen_ms.get(f, 0) >= quiet_ms]
    if sess is None or not sess.open_ms <= now_ms < sess.close_ms:
        return []
    quiet = [
        (feed, seen)
        for feed, seen in sorted(state.last_seen_ms.items())
        if now_ms - seen >= quiet_ms and feed not in state.alerted
    ]
    state.alerted += [feed for feed, _ in quiet]
    return quiet
