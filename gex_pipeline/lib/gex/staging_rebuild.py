"""Rebuild one date x feed slice of `gex_snapshots` / `gex_strikes` from processed staging segments.

The load bookkeeping (`loaded_partitions` x `loaded_segments`) names the segments whose batches
touched the feed-day; they are read from `staging/gex/processed/` (or `sealed/`, when a crash left a
committed segment unmoved). When any of them is gone (purged after `GEX_STAGING_RETENTION_DAYS`)
the rebuild is refused: it would silently lose rows.

The feed-day's records are filtered out of those segments in arrival order (segment seq, then line)
and loaded by the live loader itself (`load_segments`) into a scratch DuckDB file, so the rebuilt
rows follow exactly the live rules (first arrival wins, first row per strike). The slice is then
replaced from the scratch file in one transaction, after a Parquet pre-image of the old slice
(`day_replace.backup_slice`); a result below `shrink_ratio` of the stored strike rows is refused
unless forced. `gex_events` and `gex_conflicts` are left as they are.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import trade_date_sql
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.feed_day import SLICE_SQL, FeedDay
from gex_pipeline.lib.gex.live_load import LIVE_SOURCE, STAGED_COLUMNS, load_segments, read_json_sql
from gex_pipeline.lib.gex.partition_figures import record_slices
from gex_pipeline.lib.history.day_replace import (
    DEFAULT_SHRINK_RATIO,
    ReplaceRefused,
    SliceBackup,
    Stored,
    backup_slice,
    stored_counts,
)
from gex_pipeline.lib.staging.layout import GEX_STREAM, StreamDirs
from gex_pipeline.lib.staging.reader import Segment

if TYPE_CHECKING:
    import duckdb

_TABLES = ("gex_snapshots", "gex_strikes")


class StagingIncomplete(Exception):
    """Some staging segments of the feed-day are gone: a rebuild from the rest would lose rows."""


@dataclass(frozen=True)
class StagingRebuild:
    """What a rebuild from staging stored, from which segments, and where the old slice went."""

    segments: list[str]
    snapshots: int
    strike_rows: int
    removed_snapshots: int
    removed_strike_rows: int
    backup: SliceBackup | None


def feed_day_segments(
    con: duckdb.DuckDBPyConnection, dirs: StreamDirs, day: FeedDay
) -> list[Segment]:
    """The staged segments whose loads touched the feed-day, oldest first.

    Raises `StagingIncomplete` naming how many are neither in `processed/` nor in `sealed/`.
    """
    rows = con.execute(
        "SELECT DISTINCT s.name, s.seq FROM loaded_segments s"
        " JOIN loaded_partitions p ON p.stream = s.stream AND p.batch = s.batch"
        " WHERE s.stream = $stream AND p.ticker = $ticker AND p.endpoint = $endpoint"
        " AND p.trade_date = $trade_date"
        " ORDER BY s.seq",
        {"stream": GEX_STREAM, **day.params()},
    ).fetchall()
    found, missing = [], []
    for name, seq in rows:
        path = next((d / name for d in (dirs.processed, dirs.sealed) if (d / name).is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found.append(Segment(int(seq), path))
    if missing:
        raise StagingIncomplete(
            f"{len(missing)} of the {len(rows)} staging segments of {day} are no longer in {dirs.processed} (purged after "
            f"GEX_STAGING_RETENTION_DAYS), e.g. {missing[0]}: a rebuild would lose their rows"
        )
    return found


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _load_scratch(scratch: Path, segments: list[Segment], day: FeedDay) -> None:
    """Load the feed-day's records of `segments` into the scratch database with the live loader."""
    records = scratch.with_name("feed_day.jsonl")
    with connect(scratch) as con:
        migrate(con)
        con.execute("SET SESSION preserve_insertion_order = true")
        con.execute(
            f"COPY (SELECT * FROM {read_json_sql([str(s.path) for s in segments], STAGED_COLUMNS)}"
            f" WHERE ticker = $ticker AND endpoint = $endpoint"
            f" AND {trade_date_sql('timestamp')} = $trade_date) TO {_quote(records)} (FORMAT json)",
            day.params(),
        )
        load_segments(con, [Segment(0, records)], source=LIVE_SOURCE)


def rebuild_from_staging(
    con: duckdb.DuckDBPyConnection,
    segments: list[Segment],
    *,
    ticker: str,
    endpoint: str,
    trade_date: date,
    backups_dir: Path | None,
    work_dir: Path,
    force: bool = False,
    shrink_ratio: float = DEFAULT_SHRINK_RATIO,
    stored: Stored = None,
) -> StagingRebuild:
    """Replace the feed-day's slice with its records in `segments` (see the module docstring).

    `stored` gives the slice's (snapshots, strike rows) where `con` does not hold them all (a
    lake workspace: the lake's versions are the way back, no pre-image is written). Raises
    `ReplaceRefused` (sharp shrink without `force`); nothing stored changes then.
    """
    day = FeedDay(trade_date, ticker, endpoint)
    params = day.params()
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rebuild-", dir=work_dir) as tmp:
        scratch = Path(tmp) / "scratch.duckdb"
        _load_scratch(scratch, segments, day)
        old_snapshots, old_strikes = stored_counts(con, day, stored)
        con.execute(f"ATTACH {_quote(scratch)} AS rebuild (READ_ONLY)")
        try:
            snapshots, strikes = (
                int(
                    con.execute(
                        f"SELECT count(*) FROM rebuild.{table} WHERE {SLICE_SQL}", params
                    ).fetchall()[0][0]
                )
                for table in _TABLES
            )
            if not snapshots:
                raise ReplaceRefused(f"{day}: its staging segments hold no snapshot")
            if old_strikes and not force and strikes < shrink_ratio * old_strikes:
                raise ReplaceRefused(
                    f"{day}: staging holds {strikes} strike rows, the "
                    f"stored slice {old_strikes}: the rebuild would shrink it below "
                    f"{shrink_ratio:.0%} of its rows; run with force=true to replace anyway"
                )
            backup = None
            if stored is None and backups_dir is not None and (old_snapshots or old_strikes):
                backup = backup_slice(con, backups_dir, day)
            con.execute("BEGIN TRANSACTION")
            try:
                for table in _TABLES:
                    con.execute(f"DELETE FROM {table} WHERE {SLICE_SQL}", params)
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM rebuild.{table} WHERE {SLICE_SQL}",
                        params,
                    )
                record_slices(con, [(ticker, endpoint, trade_date)])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.execute("DETACH rebuild")
    return StagingRebuild(
        segments=[s.name for s in segments],
        snapshots=snapshots,
        strike_rows=strikes,
        removed_snapshots=old_snapshots,
        removed_strike_rows=old_strikes,
        backup=backup,
    )
