"""Rebuild the lake from what the pipeline keeps, one partition at a time (the disaster drill).

Every partition is rebuilt on its own from its kept sources, in the order they first reached the
store, through the loaders the pipeline uses:
- a feed-day: its newest raw day file (`source/gexbot/...`, imported with `import_day_file`),
  then the processed `/gex` segments sealed after that file was kept (live rows that came later,
  loaded with `load_segments`: first arrival wins); without a raw file, its segments alone; with
  neither, its exported Parquet file (strike rows only: the snapshot rows are lost and reported);
- a date of the webhook tables: its processed `/uw` segments.
Which segments touched which partition comes from the load bookkeeping of `gex_data.db`. A
feed-day's records are filtered out of its segments, so its conflict rows name the filtered file,
not the original segment and line.

Each partition is built in a private DuckDB workspace and replaces its partition in the target
lake in one commit per table (the live lake by default: a partition the live loader still holds
is sealed first; or a fresh lake with `into`), so the live loader keeps loading throughout and
never waits longer than one partition's seal. Two worker processes share the partitions; each
finished partition is written to a progress file, so an interrupted rebuild resumes where it
stopped.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import feed_key, parse_feed_key
from gex_pipeline.lib.history.names import parse_day_file_name
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.lib.lake.tables import Lake, Partition
from gex_pipeline.lib.staging.durable_fs import write_atomic
from gex_pipeline.lib.staging.layout import GEX_STREAM, UW_STREAM, stream_dirs
from gex_pipeline.lib.staging.reader import Segment, list_processed
from gex_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb

REBUILD_WRITER = "rebuild"
WORKERS = 2
# Each worker's DuckDB: one thread, and a memory cap that keeps both workers under 1 GiB.
WORKER_MEMORY_LIMIT = "384MB"
SEGMENTS_PER_BATCH = 2000
PROGRESS_FILE = "rebuild-progress.json"
GEX_TABLES_REBUILT = (
    "gex_strikes",
    "gex_snapshots",
    "gex_events",
    "gex_conflicts",
    "gex_history_rejects",
    "gex_partition_figures",
)
UW_TABLES_REBUILT = (
    "universal_webhooks",
    "option_trades_events",
    "market_agg_state",
    "webhook_conflicts",
)
_PARQUET_NAME = re.compile(r"^(\d{8})\.strikes\.parquet$")


class RebuildRefused(Exception):
    """A rebuild over a lake that holds data, without `force`."""


@dataclass(frozen=True)
class RawFile:
    """A kept raw day file and the feed-day it holds."""

    path: Path
    ticker: str
    endpoint: str
    trade_date: date
    mtime_ns: int


@dataclass(frozen=True)
class PartitionSources:
    """What one partition is rebuilt from."""

    partition: Partition
    raw: RawFile | None = None
    segments: tuple[Segment, ...] = ()
    parquet: Path | None = None

    @property
    def key(self) -> str:
        return str(self.partition)


@dataclass
class RebuildReport:
    """What a rebuild did: partitions by source, skipped ones (done before an interruption)."""

    rebuilt: dict[str, str] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)
    parquet_only: list[str] = field(default_factory=list)
    rows: int = 0


def raw_day_files(source_dir: Path) -> dict[Partition, RawFile]:
    """The newest kept raw file of every feed-day under `source_dir`."""
    newest: dict[Partition, RawFile] = {}
    for path in source_dir.glob("*/*/*"):
        name = parse_day_file_name(path.name)
        if name is None or not path.is_file():
            continue
        raw = RawFile(path, name.ticker, name.endpoint, name.trade_date, path.stat().st_mtime_ns)
        key = Partition(name.trade_date, feed_key(name.ticker, name.endpoint))
        if key not in newest or raw.mtime_ns > newest[key].mtime_ns:
            newest[key] = raw
    return newest


def _segments_by_partition(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> dict[Partition, list[Segment]]:
    """Processed segments of each partition, from the load bookkeeping (oldest first)."""
    found: dict[Partition, list[Segment]] = {}
    for stream, query in (
        (
            GEX_STREAM,
            "SELECT DISTINCT p.trade_date, p.ticker || '.' || p.endpoint, s.name, s.seq"
            " FROM loaded_segments s JOIN loaded_partitions p"
            " ON p.stream = s.stream AND p.batch = s.batch WHERE s.stream = $stream",
        ),
        (
            UW_STREAM,
            "SELECT DISTINCT d.trade_date, NULL, s.name, s.seq FROM loaded_segments s"
            " JOIN loaded_webhook_days d ON d.stream = s.stream AND d.batch = s.batch"
            " WHERE s.stream = $stream",
        ),
    ):
        processed = {
            s.name: s for s in list_processed(stream_dirs(settings.paths.staging_dir, stream))
        }
        for day, feed, name, _seq in con.execute(query, {"stream": stream}).fetchall():
            if name in processed:
                found.setdefault(Partition(day, feed), []).append(processed[name])
    return {p: sorted(set(s), key=lambda x: x.seq) for p, s in found.items()}


class StagingPurged(Exception):
    """Some processed segments of a partition are gone: rebuilding from the rest would lose rows."""


def webhook_day_sources(
    con: duckdb.DuckDBPyConnection, settings: Settings, day: date
) -> PartitionSources:
    """The processed `/uw` segments of one trading date (`gex_data.db`'s bookkeeping).

    Raises `StagingPurged` naming how many are gone (purged after the staging retention).
    """
    rows = con.execute(
        "SELECT DISTINCT s.name FROM loaded_segments s JOIN loaded_webhook_days d"
        " ON d.stream = s.stream AND d.batch = s.batch"
        " WHERE s.stream = $stream AND d.trade_date = $day",
        {"stream": UW_STREAM, "day": day},
    ).fetchall()
    processed = {
        s.name: s for s in list_processed(stream_dirs(settings.paths.staging_dir, UW_STREAM))
    }
    missing = [r[0] for r in rows if r[0] not in processed]
    if missing:
        raise StagingPurged(
            f"{len(missing)} of the {len(rows)} /uw segments of {day} are no longer in "
            "processed/ (purged after GEX_STAGING_RETENTION_DAYS): a rebuild would lose their rows"
        )
    found = sorted((processed[r[0]] for r in rows), key=lambda s: s.seq)
    return PartitionSources(Partition(day), segments=tuple(found))


def plan(settings: Settings, con: duckdb.DuckDBPyConnection) -> list[PartitionSources]:
    """Every partition the kept sources can rebuild, with its sources."""
    raws = raw_day_files(settings.paths.source_dir)
    segments = _segments_by_partition(con, settings)
    parquet: dict[Partition, Path] = {}
    for path in sorted(settings.paths.parquet_dir.glob("*/*/*.strikes.parquet")):
        match = _PARQUET_NAME.match(path.name)
        if match is not None:
            day = datetime.strptime(match.group(1), "%Y%m%d").date()
            parquet[Partition(day, f"{path.parent.parent.name}.{path.parent.name}")] = path
    keys = sorted(
        set(raws) | set(segments) | set(parquet), key=lambda p: (p.trade_date, p.feed or "")
    )
    out = []
    for key in keys:
        raw = raws.get(key)
        segs = [s for s in segments.get(key, []) if raw is None or s.seq > raw.mtime_ns]
        use_parquet = parquet.get(key) if raw is None and not segs else None
        out.append(PartitionSources(key, raw, tuple(segs), use_parquet))
    return out


def _filtered_records(
    con: duckdb.DuckDBPyConnection, segments: Iterable[Segment], partition: Partition, out: Path
) -> Path:
    """The partition's gex records of `segments`, in arrival order, as one NDJSON file."""
    from gex_pipeline.lib.calendar.trading_date import trade_date_sql
    from gex_pipeline.lib.gex.live_load import STAGED_COLUMNS
    from gex_pipeline.lib.live.microbatch import read_json_sql

    ticker, endpoint = parse_feed_key(str(partition.feed))
    con.execute("SET preserve_insertion_order = true")
    con.execute(
        f"COPY (SELECT * FROM {read_json_sql([str(s.path) for s in segments], STAGED_COLUMNS)}"
        f" WHERE ticker = $ticker AND endpoint = $endpoint"
        f" AND {trade_date_sql('timestamp')} = $day) TO '{out}' (FORMAT json)",
        {"ticker": ticker, "endpoint": endpoint, "day": partition.trade_date},
    )
    return out


def rebuild_one(
    sources: PartitionSources, store: TableStore, settings: Settings
) -> tuple[str, int]:
    """Rebuild one partition into the store's lake; returns (source, rows written)."""
    from gex_pipeline.lib.gex.live_load import load_segments
    from gex_pipeline.lib.history.day_import import import_day_file
    from gex_pipeline.lib.webhooks.live_load import load_uw_segments

    partition = sources.partition
    store.claim(partition)
    with store.workspace(partition) as ws:
        ws.con.execute("SET threads = 1")
        con = ws.con
        if partition.feed is None:
            for start in range(0, len(sources.segments), SEGMENTS_PER_BATCH):
                load_uw_segments(con, list(sources.segments[start : start + SEGMENTS_PER_BATCH]))
            ws.write_back(UW_TABLES_REBUILT, writer=REBUILD_WRITER)
            return "staging", _rows(con, "universal_webhooks", partition)
        ticker, endpoint = parse_feed_key(partition.feed)
        source = "staging"
        presorted: tuple[str, ...] = ()
        if sources.raw is not None:
            imported = import_day_file(con, sources.raw.path, ticker=ticker, endpoint=endpoint,
                                       trade_date=partition.trade_date, backups_dir=None,
                                       force=True, stored=(0, 0))  # fmt: skip
            source = "raw_file"
            presorted = ("gex_strikes",) if imported.ordered else ()
        if sources.segments:
            scratch = store.work_dir / f"rebuild-{os.getpid()}.jsonl"
            try:
                records = _filtered_records(con, sources.segments, partition, scratch)
                load_segments(con, [Segment(0, records)])
            finally:
                scratch.unlink(missing_ok=True)
            if sources.raw is not None:
                source = "raw_file+staging"
        if sources.parquet is not None:
            con.execute(
                "INSERT INTO gex_strikes (ticker, endpoint, timestamp, trade_date, strike, gamma,"
                " oi_gamma, priors) SELECT ticker, endpoint, timestamp, $day, strike, gamma,"
                " oi_gamma, priors FROM read_parquet($path)"
                " WHERE ticker = $ticker AND endpoint = $endpoint",
                {"day": partition.trade_date, "path": str(sources.parquet), "ticker": ticker,
                 "endpoint": endpoint},
            )  # fmt: skip
            source = "parquet"
        if source != "raw_file":
            # rows beside (or instead of) the day file's: its import recorded only its own
            from gex_pipeline.lib.gex.partition_figures import record_slices

            record_slices(con, [(ticker, endpoint, partition.trade_date)])
            presorted = ()
        ws.write_back(GEX_TABLES_REBUILT, writer=REBUILD_WRITER, presorted=presorted)
        return source, _rows(con, "gex_strikes", partition)


def _rows(con: duckdb.DuckDBPyConnection, table: str, partition: Partition) -> int:
    return int(
        con.execute(f"SELECT count(*) FROM {table} WHERE {partition.sql()}").fetchall()[0][0]
    )


def _worker(args: tuple[PartitionSources, TableStore]) -> tuple[str, str, int]:
    sources, store = args
    source, rows = rebuild_one(sources, store, Settings.from_env())
    return sources.key, source, rows


class Progress:
    """The partitions a rebuild finished (a JSON list rewritten atomically after each one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set(json.loads(path.read_text())) if path.is_file() else set()

    def mark(self, key: str) -> None:
        self.done.add(key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(sorted(self.done)).encode())

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def rebuild_lake(
    settings: Settings,
    *,
    force: bool = False,
    into: Path | None = None,
    workers: int = WORKERS,
) -> RebuildReport:
    """Rebuild every partition the kept sources hold (see the module docstring).

    Refuses (RebuildRefused) to rebuild into a lake that holds tables without `force` (unless a
    previous rebuild of the same target was interrupted: it resumes).
    """
    from gex_pipeline.lib.db.schema import migrate

    base = TableStore.from_settings(settings, WORKER_MEMORY_LIMIT)
    lake = Lake(str(into.resolve())) if into is not None else base.lake
    store = TableStore(base.db_path, lake, base.work_dir, WORKER_MEMORY_LIMIT)
    progress = Progress(
        base.work_dir / (PROGRESS_FILE if into is None else f"{into.name}-{PROGRESS_FILE}")
    )
    has_data = any(lake.open(n) is not None for n in ("gex_strikes", "universal_webhooks"))
    if has_data and not force and not progress.done:
        raise RebuildRefused(
            f"{lake.root} holds tables; run with --force to rebuild them (every replace is "
            "kept in the lake's history)"
        )
    with store.live() as con:
        migrate(con)
        todo = plan(settings, con)
    report = RebuildReport()
    pending = []
    for sources in todo:
        if sources.key in progress.done:
            report.resumed.append(sources.key)
        else:
            pending.append(sources)
    base.work_dir.mkdir(parents=True, exist_ok=True)
    # spawn, not fork: deltalake's runtime does not survive a fork.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=spawn) as pool:
        for key, source, rows in pool.map(_worker, [(s, store) for s in pending]):
            progress.mark(key)
            report.rebuilt[key] = source
            report.rows += rows
            if source == "parquet":
                report.parquet_only.append(key)
    progress.finish()
    return report


def replay_staging(settings: Settings) -> tuple[int, int]:
    """Load every processed segment `gex_data.db` does not record as loaded (both streams), then
    mirror it to the lake; returns (gex segments, uw segments) loaded.

    For a store restored to a restore point: the segments loaded after the point was taken are
    still in `processed/` (within the staging retention). Loads are idempotent.
    """
    from gex_pipeline.lib.db.schema import migrate
    from gex_pipeline.lib.gex.live_load import load_segments
    from gex_pipeline.lib.lake.mirror import mirror
    from gex_pipeline.lib.webhooks.live_load import load_uw_segments

    store = TableStore.from_settings(settings)
    counts = []
    with store.live() as con:
        migrate(con)
        for stream, load in ((GEX_STREAM, load_segments), (UW_STREAM, load_uw_segments)):
            segments = list_processed(stream_dirs(settings.paths.staging_dir, stream))
            loaded = 0
            for start in range(0, len(segments), SEGMENTS_PER_BATCH):
                batch = segments[start : start + SEGMENTS_PER_BATCH]
                loaded += len(load(con, batch).loaded_segments)
            counts.append(loaded)
        mirror(con, store.lake, since=None)
    return counts[0], counts[1]
