"""Bounds on history posts of one worker: posts per minute and how often finished ones are pruned."""

from __future__ import annotations

import time
from collections import deque

WINDOW_S = 60.0
PRUNE_EVERY_S = 60.0


class HistoryBounds:
    """A sliding one-minute window of at most `per_minute` posts, and the prune schedule."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._posts: deque[float] = deque()
        self._last_prune: float | None = None

    def try_post(self, now: float | None = None) -> bool:
        """Count one post at `now` (monotonic seconds) if it fits in the window; False if not."""
        now = time.monotonic() if now is None else now
        while self._posts and now - self._posts[0] >= WINDOW_S:
            self._posts.popleft()
        if len(self._posts) >= self.per_minute:
            return False
        self._posts.append(now)
        return True

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the oldest post leaves the window."""
        now = time.monotonic() if now is None else now
        return max(1, int(WINDOW_S - (now - self._posts[0])) + 1) if self._posts else 1

    def prune_due(self, now: float | None = None) -> bool:
        """True at most once per `PRUNE_EVERY_S` (the first call included)."""
        now = time.monotonic() if now is None else now
        if self._last_prune is not None and now - self._last_prune < PRUNE_EVERY_S:
            return False
        self._last_prune = now
        return True
