"""A private DuckDB for batch work on one partition of the lake (imports, rebuilds, restores).

The workspace is an in-memory DuckDB with the full schema of `gex_data.db` (its tables empty,
spilling to a temp directory beyond its memory limit). `load` copies a partition's rows from the
lake into its tables, so the pipeline's partition code (the history import, the staging rebuild,
the slice restore) runs on it unchanged; `write_back` then replaces the partition of each table
it changed in the lake, each in one commit (none where the partition is empty before and after), strike rows
before their snapshots. A replace fails
(and changes nothing) when another writer changed the partition after `load` read it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import scan
from gex_pipeline.lib.lake.tables import (
    LIVE_TABLES,
    SPECS,
    Lake,
    Partition,
    TableCache,
    duckdb_columns,
    partition_files,
)
from gex_pipeline.lib.lake.writes import lake_rows, replace

if TYPE_CHECKING:
    import duckdb
    from deltalake import DeltaTable

# Write-back order: strike rows before the snapshots that list them, the figures last.
_ORDER = {name: i for i, name in enumerate((*LIVE_TABLES, *SPECS))}


@dataclass
class Workspace:
    """One partition's rows in a private DuckDB connection (see the module docstring)."""

    lake: Lake
    partition: Partition
    con: duckdb.DuckDBPyConnection
    tables: TableCache
    bases: dict[str, DeltaTable | None] = field(default_factory=dict)

    def base(self, name: str) -> DeltaTable | None:
        """The lake table as this workspace read it (taken from `tables` on first use and kept
        at that version until it is written back or the workspace closes)."""
        if name not in self.bases:
            self.bases[name] = self.tables.take(name)
        return self.bases[name]

    def prefetch(self, *names: str) -> None:
        """Start opening the lake tables this workspace will read or write back, in `names`'
        order, and the changes table `write_back` appends to for a feed-day, while the caller
        works (`TableCache.prefetch`: on object storage)."""
        from gex_pipeline.lib.lake.changes import CHANGES_TABLE

        feed_day = self.partition.feed is not None
        self.tables.prefetch((*names, CHANGES_TABLE) if feed_day else names)

    def release(self) -> None:
        """Give the tables read but not written back to `tables`."""
        for name, table in self.bases.items():
            if table is not None:
                self.tables.put(name, table)
        self.bases.clear()

    def load(self, *names: str) -> None:
        """Copy the partition's rows of each table from the lake into the workspace."""
        for name in names:
            source = scan(self.con, self.base(name), name, [self.partition])
            columns = ", ".join(f'"{c}"' for c in duckdb_columns(name))
            self.con.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {source}")

    def count(self, name: str) -> int:
        """Rows of the partition in lake table `name` (from the table's log, no data read)."""
        table = self.base(name)
        if table is None:
            return 0
        files = partition_files(table, self.partition.for_table(SPECS[name]))
        return sum(int(str(a["num_records"] or 0)) for a in files)

    def write_back(
        self, names: Sequence[str], *, writer: str, presorted: Collection[str] = ()
    ) -> dict[str, int]:
        """Replace the partition of each table in `names` with the workspace's rows of it (no
        commit for a partition empty in both), in the table's order (`TableSpec.sort`; tables in `presorted` were inserted in that order, their
        insertion order is kept), and record the change (`lib/lake/changes.py`) for a feed-day.
        Returns the lake version of each table before the replace (-1: no table)."""
        from gex_pipeline.lib.lake.changes import record_change

        before: dict[str, int] = {}
        after: dict[str, int] = {}
        rows: dict[str, int] = {}
        for name in sorted(set(names), key=lambda n: _ORDER[n]):
            spec = SPECS[name]
            part = self.partition.for_table(spec)
            query = f"SELECT * FROM {name} WHERE {part.sql()}"
            rows[name] = int(self.con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0])
            base = self.base(name)
            before[name] = base.version() if base is not None else -1
            if base is not None and rows[name] == 0 and self.count(name) == 0:
                after[name] = before[name]  # empty before and after: no commit to make
                continue
            order = "" if name in presorted else f" ORDER BY {spec.sort}"
            ordered = lake_rows(self.con, name, query + order)
            written = replace(self.lake, name, part, ordered, writer=writer, base=base)
            after[name] = written.version()
            self.bases.pop(name, None)
            self.tables.put(name, written)
        if self.partition.feed is not None:
            record_change(
                self.con, self.lake, self.partition, writer, before, after, rows, self.tables
            )
        return before


@contextmanager
def workspace(
    lake: Lake,
    partition: Partition,
    *,
    memory_limit: str = "1GB",
    temp_dir: Path | None = None,
    tables: TableCache | None = None,
) -> Iterator[Workspace]:
    """A workspace for `partition`, its connection closed on exit; `tables`: the caller's open
    tables (each open replays a table's log since its checkpoint), else opened for it."""
    import duckdb

    from gex_pipeline.lib.db.schema import migrate

    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = '{str(temp_dir).replace(chr(39), chr(39) * 2)}'")
        con.execute("SET TimeZone = 'UTC'")
        migrate(con)
        space = Workspace(lake, partition, con, tables if tables is not None else TableCache(lake))
        try:
            yield space
        finally:
            space.release()
    finally:
        con.close()
