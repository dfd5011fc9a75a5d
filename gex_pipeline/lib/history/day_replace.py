"""Replace one date x feed slice of `gex_snapshots` / `gex_strikes` in a single transaction.

Before a replace that removes rows, the old slice is copied to Parquet under
`<backups>/<TICKER>/<endpoint>/<YYYYMMDD>-<UTC time>.{snapshots,strikes}.parquet` (a pre-image that
`restore_slice` puts back). A replace that would shrink the slice below `shrink_ratio` of its strike
rows is refused unless forced. Readers see the old slice or the new one, never a mix or a hole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.feed_day import SLICE_SQL, FeedDay
from gex_pipeline.lib.gex.partition_figures import record_slices
from gex_pipeline.lib.history.day_parse import (
    COUNTS_TABLE,
    SNAPSHOTS_SELECT,
    STRIKES_DEDUP_SELECT,
    STRIKES_SELECT,
)
from gex_pipeline.lib.history.day_rejects import keep_dropped_and_replaced

if TYPE_CHECKING:
    import duckdb

DEFAULT_SHRINK_RATIO = 0.5
_TABLES: tuple[str, str] = ("gex_snapshots", "gex_strikes")


class ReplaceRefused(Exception):
    """A replace that would lose data without `force`; the message says why."""


@dataclass(frozen=True)
class SliceBackup:
    """The two Parquet files holding a slice's pre-image."""

    snapshots: Path
    strikes: Path


@dataclass(frozen=True)
class ReplaceResult:
    """What a replace stored and removed, strike rows it dropped, where removed rows were kept."""

    strike_rows: int
    bad_strikes: int
    duplicate_strikes: int
    removed_snapshots: int
    removed_strike_rows: int
    backup: SliceBackup | None
    ordered: bool = False


def slice_counts(con: duckdb.DuckDBPyConnection, day: FeedDay) -> tuple[int, int]:
    """(snapshots, strike rows) stored for the slice."""
    params = day.params()
    # fetchall drains each result: DuckDB 2.0 refuses a later `con.sql()` while one is unfinished.
    snapshots, strikes = (
        con.execute(f"SELECT count(*) FROM {table} WHERE {SLICE_SQL}", params).fetchall()[0][0]
        for table in _TABLES
    )
    return int(snapshots), int(strikes)


# The slice's stored (snapshots, strike rows) as a lake workspace's replace gets them: counted,
# or a function that loads the workspace's tables and counts them, called once the replace's own
# work (the parse) is done, so the lake's round trips overlap it; None: count them in `con`.
Stored = tuple[int, int] | Callable[[], tuple[int, int]] | None


def stored_counts(con: duckdb.DuckDBPyConnection, day: FeedDay, stored: Stored) -> tuple[int, int]:
    """(snapshots, strike rows) the slice holds: from `stored`, else counted in `con`."""
    if callable(stored):
        return stored()
    return stored or slice_counts(con, day)


def backup_slice(con: duckdb.DuckDBPyConnection, backups_dir: Path, day: FeedDay) -> SliceBackup:
    """Copy the slice of both tables to Parquet files (zstd) under `backups_dir`; return them."""
    folder = backups_dir / day.ticker / day.endpoint
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = SliceBackup(
        snapshots=folder / f"{day.trade_date:%Y%m%d}-{stamp}.snapshots.parquet",
        strikes=folder / f"{day.trade_date:%Y%m%d}-{stamp}.strikes.parquet",
    )
    params = day.params()
    for table, path in zip(_TABLES, (backup.snapshots, backup.strikes), strict=True):
        tmp = path.with_name(f".{path.name}.tmp")
        con.execute(
            f"COPY (SELECT * FROM {table} WHERE {SLICE_SQL}) TO '{_quote(tmp)}' "
            "(FORMAT parquet, COMPRESSION zstd)",
            params,
        )
        os.replace(tmp, path)
    return backup


def prune_backups(
    backups_dir: Path, ticker: str, endpoint: str, keep_days: int, now: float
) -> list[Path]:
    """Delete the feed's pre-images older than `keep_days` (0 keeps all); return what went."""
    folder = backups_dir / ticker / endpoint
    if keep_days <= 0 or not folder.is_dir():
        return []
    cutoff = now - keep_days * 86_400
    removed = [p for p in folder.glob("*.parquet") if p.stat().st_mtime < cutoff]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _shrink_refusal(day: FeedDay, new: int, old: int, ratio: float) -> ReplaceRefused:
    return ReplaceRefused(
        f"{day}: the file has {new} strike rows, the stored slice "
        f"{old}: the replace would shrink it below {ratio:.0%} of its rows; "
        "run with force=true to replace anyway"
    )


# Per kept snapshot, from its parsed rows (no pass over the strike rows): the numeric strikes
# (`n`), the distinct ones (`strike_count`), and whether they are listed in strictly increasing
# order (`ascending`; then they are distinct, and `list_distinct`, the costly part, is skipped).
_COUNTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {COUNTS_TABLE} AS
SELECT ts_ms AS timestamp, len(keys) AS n,
       CASE WHEN ascending THEN len(keys) ELSE len(list_distinct(keys)) END AS strike_count,
       ascending, ts_ms > lag(ts_ms) OVER (ORDER BY ord) AS after_previous
FROM (
    SELECT ts_ms, ord, keys,
           coalesce(list_bool_and(list_transform(keys, lambda k, i: i = 1 OR k > keys[i - 1])),
                    true) AS ascending
    FROM (
        SELECT ts_ms, ord,
               list_filter(list_transform(strikes, lambda s: TRY_CAST(s[1] AS DOUBLE)),
                           lambda k: k IS NOT NULL) AS keys
        FROM hist_day_raw WHERE reason IS NULL
    )
)
"""


def _insert_strikes(
    con: duckdb.DuckDBPyConnection, params: dict[str, object]
) -> tuple[int, int, bool]:
    """Insert the parsed strike rows (the first of a strike repeated within a snapshot); return
    (rows inserted, repeated strikes dropped, whether they went in in (timestamp, strike) order)."""
    con.execute(_COUNTS_SQL)
    row = con.execute(
        f"SELECT coalesce(sum(n - strike_count), 0), bool_and(ascending AND n = strike_count)"
        f" AND bool_and(coalesce(after_previous, true)) FROM {COUNTS_TABLE}"
    ).fetchall()[0]
    duplicates, ordered = int(row[0]), bool(row[1])
    select = STRIKES_DEDUP_SELECT if duplicates else STRIKES_SELECT
    inserted = con.execute(f"INSERT INTO gex_strikes {select}", params).fetchall()[0][0]
    return int(inserted), duplicates, ordered


def replace_slice(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    *,
    listed_strike_rows: int,
    backups_dir: Path | None,
    force: bool = False,
    shrink_ratio: float = DEFAULT_SHRINK_RATIO,
    stored: Stored = None,
) -> ReplaceResult:
    """Replace the slice `day` with the parsed day file (`hist_day_raw`) in one transaction.

    Refuses (ReplaceRefused) a result below `shrink_ratio` x the stored strike rows, unless
    `force`; `listed_strike_rows` (rows in the file, before dropping bad or repeated strikes)
    allows refusing before any work. `stored` gives the (snapshots, strike rows) the slice holds
    where `con` does not hold them all (a lake workspace); then the lake's versions are the way
    back and no pre-image is written. Otherwise a pre-image is kept under `backups_dir` when rows
    are removed. On any error the transaction rolls back and the old slice stays as it was.
    """
    old_snapshots, old_strikes = stored_counts(con, day, stored)
    guard = old_strikes and not force
    if guard and listed_strike_rows < shrink_ratio * old_strikes:
        raise _shrink_refusal(day, listed_strike_rows, old_strikes, shrink_ratio)
    backup = None
    if stored is None and backups_dir is not None and (old_snapshots or old_strikes):
        backup = backup_slice(con, backups_dir, day)
    params = day.params()
    con.execute("BEGIN TRANSACTION")
    try:
        keep_dropped_and_replaced(con, params)
        for table in _TABLES:
            con.execute(f"DELETE FROM {table} WHERE {SLICE_SQL}", params)
        kept, duplicates, ordered = _insert_strikes(con, params)
        if guard and kept < shrink_ratio * old_strikes:
            raise _shrink_refusal(day, kept, old_strikes, shrink_ratio)
        con.execute(f"INSERT INTO gex_snapshots {SNAPSHOTS_SELECT}", params)
        record_slices(con, [(day.ticker, day.endpoint, day.trade_date)], unique_keys=True)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ReplaceResult(
        strike_rows=kept,
        bad_strikes=listed_strike_rows - kept - duplicates,
        duplicate_strikes=duplicates,
        removed_snapshots=old_snapshots,
        removed_strike_rows=old_strikes,
        backup=backup,
        ordered=ordered,
    )


def restore_slice(con: duckdb.DuckDBPyConnection, backup: SliceBackup, day: FeedDay) -> None:
    """Put a pre-image back: the slice `day` becomes exactly the rows of `backup`, in one
    transaction."""
    params = day.params()
    con.execute("BEGIN TRANSACTION")
    try:
        for table, path in zip(_TABLES, (backup.snapshots, backup.strikes), strict=True):
            con.execute(f"DELETE FROM {table} WHERE {SLICE_SQL}", params)
            con.execute(f"INSERT INTO {table} SELECT * FROM read_parquet('{_quote(path)}')")
        record_slices(con, [(day.ticker, day.endpoint, day.trade_date)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
