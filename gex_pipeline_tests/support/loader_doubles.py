"""Stand-ins at the live loader's edges: a settable clock and a publisher that reports nothing."""

from __future__ import annotations

from typing import Any


class SettableClock:
    """A clock (seconds) the test sets and advances through `now`."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SilentPublisher:
    """A publisher that builds no events and publishes nothing (tests of loading alone)."""

    def events(self, stream: str, con: Any, stats: Any) -> list[Any]:
        return []

    def publish(self, events: list[Any]) -> None:
        return None
