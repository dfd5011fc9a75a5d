"""Import one day file into its date x feed slice: parse + validate, then replace atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.history.day_format import MAX_DECOMPRESSED_BYTES
from gex_pipeline.lib.history.day_parse import drop_parsed, parse_day_file
from gex_pipeline.lib.history.day_replace import (
    DEFAULT_SHRINK_RATIO,
    SliceBackup,
    Stored,
    replace_slice,
)

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ImportStats:
    """What an import stored, dropped (by reason) and replaced."""

    snapshots: int
    strike_rows: int
    dropped: dict[str, int]
    first_ts: int | None
    last_ts: int | None
    removed_snapshots: int = 0
    removed_strike_rows: int = 0
    backup: SliceBackup | None = field(default=None)
    ordered: bool = False

    def summary(self) -> dict[str, int]:
        """Counts for status records and materialization metadata (no paths, no URLs)."""
        return {
            "snapshots": self.snapshots,
            "strike_rows": self.strike_rows,
            "dropped_snapshots": sum(
                n for r, n in self.dropped.items() if r not in ("bad_strike", "duplicate_strike")
            ),
            "dropped_strike_rows": self.dropped.get("bad_strike", 0)
            + self.dropped.get("duplicate_strike", 0),
            "replaced_strike_rows": self.removed_strike_rows,
        }


def import_day_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    ticker: str,
    endpoint: str,
    trade_date: date,
    backups_dir: Path | None,
    force: bool = False,
    shrink_ratio: float = DEFAULT_SHRINK_RATIO,
    max_decompressed: int = MAX_DECOMPRESSED_BYTES,
    stored: Stored = None,
) -> ImportStats:
    """Parse and validate `path`, then replace the slice (ticker, endpoint, trade_date) with it.

    Raises `DayFileInvalid` (bad, truncated or wrong file) or `ReplaceRefused` (sharp shrink
    without `force`); in both cases nothing stored changes.
    """
    day = FeedDay(trade_date, ticker, endpoint)
    try:
        parsed = parse_day_file(
            con, path, day, work_dir=path.parent, max_decompressed=max_decompressed
        )
        replaced = replace_slice(
            con,
            day,
            listed_strike_rows=parsed.listed_strike_rows,
            backups_dir=backups_dir,
            force=force,
            shrink_ratio=shrink_ratio,
            stored=stored,
        )
    finally:
        drop_parsed(con)
    return ImportStats(
        snapshots=parsed.snapshots,
        strike_rows=replaced.strike_rows,
        dropped={
            **parsed.dropped,
            "bad_strike": replaced.bad_strikes,
            "duplicate_strike": replaced.duplicate_strikes,
        },
        first_ts=parsed.first_ts,
        last_ts=parsed.last_ts,
        removed_snapshots=replaced.removed_snapshots,
        removed_strike_rows=replaced.removed_strike_rows,
        backup=replaced.backup,
        ordered=replaced.ordered,
    )
