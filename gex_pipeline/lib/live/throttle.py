"""Bounded-rate reporting: figures per partition are merged and released at most once per interval."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Stats = TypeVar("Stats")


def merge_figures(a: Any, b: Any) -> Any:
    """Two batches' figures (dataclasses of one type) for the same partition, added up: counts
    summed, `first_*` the earlier, `last_*` the later, the key fields (dates, names) kept."""
    values = {}
    for item in dataclasses.fields(a):
        x, y = getattr(a, item.name), getattr(b, item.name)
        if item.name.startswith("first_"):
            values[item.name] = min(x, y)
        elif item.name.startswith("last_"):
            values[item.name] = max(x, y)
        elif isinstance(x, int) and not isinstance(x, bool):
            values[item.name] = x + y
        else:
            values[item.name] = x
    return type(a)(**values)


@dataclass
class ReportThrottle(Generic[Key, Stats]):
    """Collects per-partition figures and releases each partition at most every `interval_s`.

    A partition never reported by this process is due at once; later figures wait until the
    interval since its last release has passed, merged with `merge`.
    """

    key: Callable[[Stats], Key]
    interval_s: float
    merge: Callable[[Stats, Stats], Stats] = merge_figures
    pending: dict[Key, Stats] = field(default_factory=dict)
    released_at: dict[Key, float] = field(default_factory=dict)

    def add(self, stats: Iterable[Stats]) -> None:
        """Merge new figures into the pending ones."""
        for item in stats:
            key = self.key(item)
            seen = self.pending.get(key)
            self.pending[key] = item if seen is None else self.merge(seen, item)

    def has_due(self, now: float) -> bool:
        """Whether some pending partition may be released at `now`."""
        return any(self._due(key, now) for key in self.pending)

    def take_due(self, now: float) -> list[Stats]:
        """Release the partitions that are due at `now` (oldest key order kept)."""
        due = [key for key in self.pending if self._due(key, now)]
        for key in due:
            self.released_at[key] = now
        return [self.pending.pop(key) for key in due]

    def take_all(self, now: float) -> list[Stats]:
        """Release every pending partition (shutdown)."""
        for key in self.pending:
            self.released_at[key] = now
        taken = list(self.pending.values())
        self.pending.clear()
        return taken

    def _due(self, key: Key, now: float) -> bool:
        last = self.released_at.get(key)
        return last is None or now - last >= self.interval_s
