"""Rebuild `gex_data.db` from what the pipeline keeps: raw day files, processed staging, Parquet.

The disaster drill: the database file is lost or damaged. The kept sources are replayed into a
fresh file in the order they first reached the database, through the loaders the pipeline uses:

- processed `/gex` and `/uw` segments (`staging/<stream>/processed/`) with `load_segments` /
  `load_uw_segments` (their seq is their sealing time), and
- raw day files (`source/gexbot/<TICKER>/<endpoint>/`) with `import_day_file` (their mtime is
  when they were downloaded and imported; a later import replaced the live slice, live data after
  it was appended), interleaved by time;
- then Parquet files (`parquet/gexbot/...`) fill the `gex_strikes` slices nothing else holds
  (segments purged by retention, raw file deleted). Parquet has no snapshot rows: those slices come
  back without their `gex_snapshots` rows, and the report lists them.

The new file is built beside the old one under the writer lock (live loads wait), checkpointed and
renamed into place; an existing database is moved aside first, never deleted.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.db.backup import REPLACED_DIR, move_aside
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.db.writer import writer_lock
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.partition_figures import record_slices
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.lib.history.names import parse_day_file_name
from gex_pipeline.lib.staging.durable_fs import fsync_dir
from gex_pipeline.lib.staging.layout import GEX_STREAM, UW_STREAM, stream_dirs
from gex_pipeline.lib.staging.reader import Segment, list_processed
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb

SEGMENTS_PER_BATCH = 2000
_PARQUET_NAME = re.compile(r"^(\d{8})\.strikes\.parquet$")


class RebuildRefused(Exception):
    """A rebuild over an existing database without `force`."""


@dataclass(frozen=True)
class RawFile:
    """A kept raw day file and the slice it holds."""

    path: Path
    ticker: str
    endpoint: str
    trade_date: date
    mtime_ns: int


@dataclass
class RebuildReport:
    """What a rebuild replayed, from where, and where the database it replaced went."""

    gex_segments: int = 0
    uw_segments: int = 0
    day_files: list[str] = field(default_factory=list)
    parquet_slices: list[str] = field(default_factory=list)
    replaced: Path | None = None


def raw_day_files(source_dir: Path) -> list[RawFile]:
    """The newest kept raw file of every (date, feed) under `source_dir`, oldest first."""
    newest: dict[tuple[date, str, str], RawFile] = {}
    for path in source_dir.glob("*/*/*"):
        name = parse_day_file_name(path.name)
        if name is None or not path.is_file():
            continue
        raw = RawFile(path, name.ticker, name.endpoint, name.trade_date, path.stat().st_mtime_ns)
        key = (name.trade_date, name.ticker, name.endpoint)
        if key not in newest or raw.mtime_ns > newest[key].mtime_ns:
            newest[key] = raw
    return sorted(newest.values(), key=lambda r: r.mtime_ns)


def _replay_order(
    segments: list[Segment], raw_files: list[RawFile]
) -> Iterator[list[Segment] | RawFile]:
    """Segments (batched) and raw files in the order they reached the database."""
    events = sorted(
        [(s.seq, 0, s) for s in segments] + [(r.mtime_ns, 1, r) for r in raw_files],
        key=lambda e: (e[0], e[1]),
    )
    batch: list[Segment] = []
    for _, _, item in events:
        if isinstance(item, RawFile):
            if batch:
                yield batch
                batch = []
            yield item
        else:
            batch.append(item)
            if len(batch) >= SEGMENTS_PER_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _fill_from_parquet(
    con: duckdb.DuckDBPyConnection, parquet_dir: Path, report: RebuildReport
) -> None:
    """Insert the strike rows of Parquet files whose slice is still empty."""
    for path in sorted(parquet_dir.glob("*/*/*.strikes.parquet")):
        match = _PARQUET_NAME.match(path.name)
        if match is None:
            continue
        ticker, endpoint = path.parent.parent.name, path.parent.name
        day = datetime.strptime(match.group(1), "%Y%m%d").date()
        params = {"ticker": ticker, "endpoint": endpoint, "trade_date": day}
        stored = con.execute(
            "SELECT count(*) FROM gex_strikes WHERE ticker = $ticker AND endpoint = $endpoint"
            " AND trade_date = $trade_date",
            params,
        ).fetchall()[0][0]
        if stored:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "INSERT INTO gex_strikes (ticker, endpoint, timestamp, trade_date, strike, gamma,"
                " oi_gamma, priors) SELECT ticker, endpoint, timestamp, $trade_date, strike, gamma,"
                " oi_gamma, priors FROM read_parquet($path)"
                " WHERE ticker = $ticker AND endpoint = $endpoint",
                {**params, "path": str(path)},
            )
            record_slices(con, [(ticker, endpoint, day)])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        report.parquet_slices.append(f"{day}|{ticker}.{endpoint}")


def replay_into(
    con: duckdb.DuckDBPyConnection, settings: Settings, work_dir: Path, report: RebuildReport
) -> None:
    """Replay processed staging and raw day files (by time), then Parquet-only slices, into `con`."""
    memory_limit = settings.history.duckdb_memory_limit
    gex = list_processed(stream_dirs(settings.paths.staging_dir, GEX_STREAM))
    for step in _replay_order(gex, raw_day_files(settings.paths.source_dir)):
        if isinstance(step, RawFile):
            # The import's memory cap, as in import runs; the live loads run without one.
            con.execute(f"SET memory_limit = '{memory_limit}'")
            try:
                import_day_file(con, step.path, ticker=step.ticker, endpoint=step.endpoint,
                                trade_date=step.trade_date, backups_dir=work_dir, force=True)  # fmt: skip
            finally:
                con.execute("RESET memory_limit")
            report.day_files.append(str(step.path))
        else:
            report.gex_segments += len(load_segments(con, step).loaded_segments)
    uw = list_processed(stream_dirs(settings.paths.staging_dir, UW_STREAM))
    for start in range(0, len(uw), SEGMENTS_PER_BATCH):
        batch = uw[start : start + SEGMENTS_PER_BATCH]
        report.uw_segments += len(load_uw_segments(con, batch).loaded_segments)
    _fill_from_parquet(con, settings.paths.parquet_dir, report)


def rebuild_database(
    settings: Settings, *, force: bool = False, now: datetime | None = None
) -> RebuildReport:
    """Rebuild `settings.paths.duckdb_path` from the kept sources (see the module docstring).

    Raises RebuildRefused when a database exists and `force` is not set; on any error the
    existing database (if any) is left where it was.
    """
    db_path = settings.paths.duckdb_path
    wal = db_path.with_name(db_path.name + ".wal")
    report = RebuildReport()
    with writer_lock(db_path):
        if (db_path.exists() or wal.exists()) and not force:
            raise RebuildRefused(
                f"{db_path} exists; run with --force to rebuild it (the old file is kept aside)"
            )
        tmp = db_path.with_name(f".{db_path.name}.rebuild.tmp")
        work = db_path.with_name(f".{db_path.name}.rebuild.work")
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            with connect(tmp) as con:
                migrate(con)
                replay_into(con, settings, work, report)
                con.execute("CHECKPOINT")
            if db_path.exists() or wal.exists():
                report.replaced = move_aside(
                    db_path, settings.paths.db_backups_dir / REPLACED_DIR, now
                )
            os.replace(tmp, db_path)
            fsync_dir(db_path.parent)
        finally:
            tmp.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    return report


def replay_staging(settings: Settings) -> RebuildReport:
    """Load every processed segment the database does not record as loaded (both streams).

    For a database restored from a backup: the segments loaded after the backup was taken are
    still in `processed/` (within the staging retention). Loads are idempotent, so segments the
    database already holds load nothing.
    """
    report = RebuildReport()
    with connect(settings.paths.duckdb_path) as con:
        migrate(con)
        gex = list_processed(stream_dirs(settings.paths.staging_dir, GEX_STREAM))
        for start in range(0, len(gex), SEGMENTS_PER_BATCH):
            batch = gex[start : start + SEGMENTS_PER_BATCH]
            report.gex_segments += len(load_segments(con, batch).loaded_segments)
        uw = list_processed(stream_dirs(settings.paths.staging_dir, UW_STREAM))
        for start in range(0, len(uw), SEGMENTS_PER_BATCH):
            batch = uw[start : start + SEGMENTS_PER_BATCH]
            report.uw_segments += len(load_uw_segments(con, batch).loaded_segments)
    return report
