"""The lake: the Delta Lake tables that are the system of record (see docs/decisions.md).

Every data table of `gex_data.db` has a Delta table of the same name and columns under the lake
root (`$GEX_DATA_DIR/lake/<table>` by default), partitioned by `trade_date` and, for the GEX
tables, by `feed` (`TICKER.endpoint`, a column the lake adds). Closed sessions live only here; the
live loader's DuckDB file keeps the open partitions and mirrors them here within seconds, so a
reader of the lake sees everything (`gex_pipeline.lib.lake.reads`).

A table is created on first write with the Arrow schema of its DuckDB table (JSON as string,
HUGEINT as decimal(38, 0), timestamps in UTC), so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

    from gex_pipeline.lib.lake.remote import LocalCopies
    from gex_pipeline.settings import PathSettings

FEED_COLUMN = "feed"
GEX_PARTITION: tuple[str, ...] = ("trade_date", FEED_COLUMN)
DAY_PARTITION: tuple[str, ...] = ("trade_date",)
# Table properties: the log keeps versions 7 days (restore points keep their own copies of older
# ones: `restore_points.py`). The live loader commits every flush (~12k commits a session at 2 s),
# so a longer log would only grow the directory every table load and commit lists (on a local
# lake each costs more as it grows: docs/decisions.md). A checkpoint carries each file removal
# (tombstone) younger than `deletedFileRetentionDuration`: the live roll-up removes a few hundred
# small files a minute per table, and 7 days of them (~100k a session) made each checkpoint write
# cost ~0.3 s and each open ~0.15 s more per 100k (docs/decisions.md). Which
# removed files stay on disk is decided from the log's replaces by the daily vacuum
# (`maintenance.py`), not from tombstones, so they are kept only minutes.
TABLE_CONFIGURATION: dict[str, str | None] = {
    "delta.logRetentionDuration": "interval 7 days",
    "delta.deletedFileRetentionDuration": "interval 10 minutes",
    "delta.checkpointInterval": "100",
}
# On object storage every open of a table reads each commit since its last checkpoint (delta-rs
# 1.6 fetches each twice), a round trip apiece: with the live loader committing every 2 s, a
# checkpoint every 10 commits keeps an open to ~20 small reads instead of up to 200.
OBJECT_STORE_CHECKPOINT_INTERVAL = "10"


@dataclass(frozen=True)
class TableSpec:
    """One lake table: its partition columns and the natural key that makes a row unique.

    `key` identifies a row within its partition (merges append only rows whose key is absent);
    for `gex_strikes` it is the snapshot key: its rows arrive and leave with their snapshot.
    `recency` is a column of the DuckDB table that grows with each load (it bounds what a mirror
    pass has to look at); None for tables only batch jobs write.
    """

    name: str
    partition_by: tuple[str, ...]
    key: tuple[str, ...]
    recency: str | None = None
    order_by: str | None = None

    @property
    def sort(self) -> str:
        """The row order of a compacted partition."""
        return self.order_by or ", ".join(self.key)

    @property
    def by_feed(self) -> bool:
        """Whether the table is partitioned by feed as well as by date."""
        return FEED_COLUMN in self.partition_by


SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "gex_snapshots", GEX_PARTITION, ("ticker", "endpoint", "timestamp"), "ingested_at"
        ),
        TableSpec(
            "gex_strikes",
            GEX_PARTITION,
            ("ticker", "endpoint", "timestamp"),
            order_by="timestamp, strike",
        ),
        TableSpec(
            "gex_events", GEX_PARTITION, ("ticker", "endpoint", "kind", "timestamp"), "ingested_at"
        ),
        TableSpec("gex_conflicts", GEX_PARTITION, ("segment", "line"), "detected_at"),
        TableSpec("gex_history_rejects", GEX_PARTITION, ("position",)),
        TableSpec("gex_live_shadow", GEX_PARTITION, ("ticker", "endpoint", "timestamp")),
        TableSpec("gex_partition_figures", GEX_PARTITION, ("ticker", "endpoint")),
        TableSpec("gex_partition_changes", GEX_PARTITION, ("changed_at",)),
        TableSpec("universal_webhooks", DAY_PARTITION, ("id",), "ingested_at"),
        TableSpec("option_trades_events", DAY_PARTITION, ("id",), "ingested_at"),
        TableSpec("market_agg_state", DAY_PARTITION, ("message_id",), "ingested_at"),
        TableSpec("webhook_conflicts", DAY_PARTITION, ("segment", "line"), "detected_at"),
    )
}
GEX_TABLES: tuple[str, ...] = tuple(n for n, s in SPECS.items() if s.by_feed)
WEBHOOK_TABLES: tuple[str, ...] = tuple(n for n, s in SPECS.items() if not s.by_feed)
# What the live loader writes (and mirrors), in mirror order: strike rows before their snapshot,
# so a snapshot in the lake means its strike rows are there too.
LIVE_TABLES: tuple[str, ...] = (
    "gex_strikes",
    "gex_snapshots",
    "gex_events",
    "gex_conflicts",
    "universal_webhooks",
    "option_trades_events",
    "market_agg_state",
    "webhook_conflicts",
)


@dataclass
class TableCache:
    """The lake's tables kept open between calls and brought up to date on each use (reading
    only the commits since), for a long-running writer (the live loader) or the many reads and
    commits of one pass: reopening a table replays its log since the last checkpoint every time,
    a round trip per log object on object storage."""

    lake: Lake
    opened: dict[str, DeltaTable] = field(default_factory=dict)
    opening: dict[str, Future[DeltaTable | None]] = field(default_factory=dict)
    # Local copies of a remote lake's files while a reader of this cache is open (`store.reader`).
    copies: LocalCopies | None = None

    def prefetch(self, names: Iterable[str]) -> None:
        """Start opening the tables of `names` not open yet, in that order, on a thread of their
        own, when the lake is on object storage: the round trips of the opens overlap the
        caller's work (a local open reads local files, cheaper than the thread). The first `get`
        of a table waits for its open and takes it at the version it opened; later ones bring it
        up to date. An open an earlier prefetch started and nobody took is started again."""
        if self.lake.local_path("") is not None:
            return
        wanted = [n for n in dict.fromkeys(names) if n not in self.opened]
        if not wanted:
            return
        opener = ThreadPoolExecutor(1, thread_name_prefix="lake-prefetch")
        for name in wanted:
            self.opening[name] = opener.submit(self.lake.open, name)
        opener.shutdown(wait=False)

    def get(self, name: str) -> DeltaTable | None:
        """Table `name` at its latest version (a prefetched one: as it opened), or None when it
        was never written."""
        cached = name in self.opened
        table = self.current(name)
        if cached and table is not None:
            table.update_incremental()
        return table

    def current(self, name: str) -> DeltaTable | None:
        """Table `name` at the version this cache last saw (opened, read or written), opened
        when it has none; no round trip to look for newer commits (a job reading back what it
        just wrote). None when it was never written."""
        table = self.opened.get(name)
        if table is None:
            pending = self.opening.pop(name, None)
            table = pending.result() if pending is not None else self.lake.open(name)
            if table is not None:
                self.opened[name] = table
        return table

    def ensure(self, name: str) -> DeltaTable:
        """Table `name` at its latest version, created when missing."""
        return self.get(name) or self.opened.setdefault(name, self.lake.ensure(name))

    def take(self, name: str) -> DeltaTable | None:
        """Table `name` at its latest version, out of the cache: the taker keeps it at that
        version (a conflict base) while other users of the cache open their own; `put` it back."""
        table = self.get(name)
        self.opened.pop(name, None)
        return table

    def put(self, name: str, table: DeltaTable) -> None:
        """Give a table back to the cache (brought up to date on its next `get`)."""
        self.opened[name] = table


def lake_at(paths: PathSettings) -> Lake:
    """The deployment's lake (`$GEX_DATA_DIR/lake`)."""
    return Lake(str(paths.lake_dir.resolve()))


@dataclass(frozen=True, order=True)
class Partition:
    """One partition of a lake table: a trade date, and a feed for the GEX tables."""

    trade_date: date
    feed: str | None = None

    def filters(self) -> list[tuple[str, str, str]]:
        """The partition as deltalake partition filters."""
        found = [("trade_date", "=", self.trade_date.isoformat())]
        if self.feed is not None:
            found.append((FEED_COLUMN, "=", self.feed))
        return found

    def predicate(self) -> str:
        """The partition as a Delta SQL predicate (for an atomic replace)."""
        text = f"trade_date = '{self.trade_date.isoformat()}'"
        if self.feed is not None:
            text += f" AND {FEED_COLUMN} = '{self.feed}'"
        return text

    def sql(self) -> str:
        """The partition as a DuckDB WHERE clause over a DuckDB table (no `feed` column)."""
        text = f"trade_date = DATE '{self.trade_date.isoformat()}'"
        if self.feed is not None:
            ticker, _, endpoint = self.feed.partition(".")
            text += f" AND ticker = '{ticker}' AND endpoint = '{endpoint}'"
        return text

    def for_table(self, spec: TableSpec) -> Partition:
        """This partition as seen by `spec` (the webhook tables have no feed)."""
        return self if spec.by_feed else Partition(self.trade_date)

    def __str__(self) -> str:
        return f"{self.trade_date.isoformat()}|{self.feed}" if self.feed else str(self.trade_date)


@dataclass(frozen=True)
class Lake:
    """Where the lake tables live: a local directory or an object-store URI, with the options
    the object store needs (endpoint, credentials; see docs/deployment.md). `host` names the
    writing host in a lake several hosts share (`lib/lake/arbitration.py`); None for one host."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    host: str | None = None

    @property
    def shared(self) -> bool:
        """Whether several hosts write this lake (it names this host): the mirror then commits
        conflict-checked and arbitrated between hosts instead of appending (`mirror.py`)."""
        return self.host is not None

    def uri(self, name: str) -> str:
        """The URI of one table."""
        return f"{self.root.rstrip('/')}/{name}"

    def local_path(self, name: str) -> Path | None:
        """The directory of table `name` when the lake is on the local file system, else None."""
        if "://" in self.root and not self.root.startswith("file://"):
            return None
        return Path(self.root.removeprefix("file://")) / name

    def options(self) -> dict[str, str] | None:
        """Storage options for deltalake (None for a local directory)."""
        return dict(self.storage_options) or None

    def configuration(self) -> dict[str, str | None]:
        """The table properties a table is created with (`TABLE_CONFIGURATION`; on object
        storage, a checkpoint every `OBJECT_STORE_CHECKPOINT_INTERVAL` commits)."""
        if self.local_path("") is not None:
            return dict(TABLE_CONFIGURATION)
        return TABLE_CONFIGURATION | {"delta.checkpointInterval": OBJECT_STORE_CHECKPOINT_INTERVAL}

    def configure(self, table: DeltaTable, *, writer: str) -> dict[str, str]:
        """Bring an existing table's properties to `configuration()` (a table created by an
        older version keeps the properties it was created with); returns what changed, in one
        commit (none when nothing differs). A property change conflicts with every concurrent
        commit: run it when no other writer works (the daily maintenance)."""
        current = table.metadata().configuration
        changed = {
            key: value
            for key, value in self.configuration().items()
            if value is not None and current.get(key) != value
        }
        if changed:
            from deltalake import CommitProperties

            table.alter.set_table_properties(
                changed, commit_properties=CommitProperties(custom_metadata={"gex.writer": writer})
            )
        return changed

    def open(self, name: str, version: int | None = None) -> DeltaTable | None:
        """The table (at `version`, else the latest), or None when it was never written."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        # Opening and catching costs one listing of the log; asking `is_deltatable` first cost
        # another round trip per open on object storage.
        try:
            return DeltaTable(self.uri(name), version=version, storage_options=self.options())
        except TableNotFoundError:
            return None

    def ensure(self, name: str) -> DeltaTable:
        """The table, created empty with its schema and partitioning when missing."""
        from deltalake import DeltaTable

        table = self.open(name)
        if table is not None:
            return table
        spec = SPECS[name]
        try:
            return DeltaTable.create(
                self.uri(name),
                schema=lake_schema(name),
                partition_by=list(spec.partition_by),
                mode="ignore",
                configuration=self.configuration(),
                storage_options=self.options(),
            )
        except Exception:
            table = self.open(name)  # created by a concurrent writer meanwhile
            if table is None:
                raise
            return table


def partition_files(table: DeltaTable, partition: Partition) -> list[dict[str, object]]:
    """The add actions (path, size_bytes, num_records, ...) of the partition's live files
    (picked in Arrow: a table holds every small file the live loader's passes wrote today)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))
    mask = pa.array([True] * actions.num_rows, pa.bool_())
    for key, _, value in partition.filters():
        column = f"partition.{key}"
        if column not in actions.column_names:
            return []
        mask = pc.and_(mask, pc.equal(pc.cast(actions[column], pa.string()), value))
    return actions.filter(mask).to_pylist()


def small_files(table: DeltaTable, below: int) -> dict[Partition, int]:
    """How many live files smaller than `below` bytes each partition of `table` holds (the
    files are filtered in Arrow: only the small ones, a live day's, reach Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))
    actions = actions.filter(pc.less(actions["size_bytes"], below))
    column = f"partition.{FEED_COLUMN}"
    keys = ["partition.trade_date"] + ([column] if column in actions.column_names else [])
    found: dict[Partition, int] = {}
    for row in actions.group_by(keys).aggregate([([], "count_all")]).to_pylist():
        day = row["partition.trade_date"]
        day = day if isinstance(day, date) else date.fromisoformat(day)
        found[Partition(day, row.get(column))] = row["count_all"]
    return found


def partitions_filters(partitions: Sequence[Partition]) -> list[tuple[str, str, object]]:
    """Partitions of one date as deltalake partition filters (the date, and the feeds when the
    partitions have one)."""
    days = {p.trade_date for p in partitions}
    if len(days) != 1:
        raise ValueError(f"partitions of one date expected, got {sorted(days)}")
    found: list[tuple[str, str, object]] = [("trade_date", "=", days.pop().isoformat())]
    feeds = sorted({p.feed for p in partitions if p.feed is not None})
    if feeds:
        found.append((FEED_COLUMN, "in", feeds))
    return found


@cache
def _duckdb_schemas() -> dict[str, pa.Schema]:
    import duckdb

    from gex_pipeline.lib.db.schema import migrate

    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        migrate(con)
        return {
            name: con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema for name in SPECS
        }


def _file_order(name: str) -> list[str]:
    """Column order of a table's data files: `gex_strikes` files hold exactly the columns of the
    exported strikes file, in its order (so a compacted partition's file is the export)."""
    from gex_pipeline.lib.gex.parquet_export import EXPORT_COLUMNS

    columns = list(_duckdb_schemas()[name].names)
    if name != "gex_strikes":
        return columns
    return [*EXPORT_COLUMNS, *(c for c in columns if c not in EXPORT_COLUMNS)]


def lake_schema(name: str) -> pa.Schema:
    """The Arrow schema of a lake table: its DuckDB table's (the data file order of
    `gex_strikes` is the export's), timestamps in UTC, plus `feed`."""
    import pyarrow as pa

    fields = []
    duck = _duckdb_schemas()[name]
    for item in (duck.field(c) for c in _file_order(name)):
        kind = item.type
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz="UTC")
        fields.append(pa.field(item.name, kind, nullable=True))
    if SPECS[name].by_feed:
        fields.append(pa.field(FEED_COLUMN, pa.string(), nullable=True))
    return pa.schema(fields)


def duckdb_columns(name: str) -> list[str]:
    """The columns of the DuckDB table `name` (the lake table's, without `feed`)."""
    return list(_duckdb_schemas()[name].names)


def lake_columns(name: str) -> list[str]:
    """The columns of lake table `name` in its schema's order, without `feed`."""
    return _file_order(name)
