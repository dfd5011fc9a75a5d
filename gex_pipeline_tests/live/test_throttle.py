"""Bounded-rate reporting: figures merge per partition and are released at most once per interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gex_pipeline.lib.live.throttle import ReportThrottle, merge_figures


@dataclass(frozen=True)
class Figures:
    trade_date: date
    feed: str
    added: int
    first_at: int
    last_at: int


DAY = date(2025, 11, 14)


def test_merge_adds_counts_keeps_keys_and_widens_the_time_range() -> None:
    merged = merge_figures(Figures(DAY, "SPX", 2, 10, 20), Figures(DAY, "SPX", 3, 5, 15))
    assert merged == Figures(DAY, "SPX", 5, 5, 20)


def test_a_new_partition_is_released_at_once_then_at_most_once_per_interval() -> None:
    throttle = ReportThrottle[str, Figures](lambda f: f.feed, 60.0)
    throttle.add([Figures(DAY, "SPX", 1, 0, 0)])
    assert [f.added for f in throttle.take_due(0.0)] == [1]
    throttle.add([Figures(DAY, "SPX", 2, 1, 1), Figures(DAY, "SPX", 3, 2, 2)])
    assert throttle.take_due(30.0) == []
    assert throttle.take_due(60.0) == [Figures(DAY, "SPX", 5, 1, 2)]


def test_take_all_releases_everything_pending() -> None:
    throttle = ReportThrottle[str, Figures](lambda f: f.feed, 60.0)
    throttle.add([Figures(DAY, "SPX", 1, 0, 0)])
    throttle.take_due(0.0)
    throttle.add([Figures(DAY, "SPX", 1, 1, 1), Figures(DAY, "NDX", 4, 1, 1)])
    assert {f.feed for f in throttle.take_all(1.0)} == {"SPX", "NDX"}
    assert throttle.pending == {}
