"""Where the tables live, for batch jobs: the live loader's DuckDB file and the lake.

`gex_data.db` holds the open partitions (today's live rows) and the load bookkeeping; the lake
holds every partition (`lib/lake/tables.py`). A batch job on one partition (import, rebuild,
restore, export, checks) first `claim`s it, which seals it out of `gex_data.db` if the loader
still holds rows of it (a short hold of the writer lock), then works on a `workspace` of the
lake's rows and writes its result back to the lake. Jobs never hold the writer lock while they
parse, compute or write.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import attach_partition
from gex_pipeline.lib.lake.seal import Sealed, claim_partition
from gex_pipeline.lib.lake.tables import Lake, Partition, TableCache, lake_at
from gex_pipeline.lib.lake.workspace import Workspace, workspace

if TYPE_CHECKING:
    import duckdb

    from gex_pipeline.settings import PathSettings, Settings

DEFAULT_MEMORY_LIMIT = "1GB"


@dataclass(frozen=True)
class TableStore:
    """The live DuckDB file, the lake and the scratch directory of batch jobs.

    `tables` keeps the lake tables the store's users opened, brought up to date on each use: a
    job's workspace, reader and export open each table once (one thread at a time)."""

    db_path: Path
    lake: Lake
    work_dir: Path
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    tables: TableCache = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", TableCache(self.lake))

    @classmethod
    def from_paths(
        cls, paths: PathSettings, memory_limit: str = DEFAULT_MEMORY_LIMIT
    ) -> TableStore:
        """The deployment's store (`$GEX_DATA_DIR/gex_data.db`, `$GEX_DATA_DIR/lake`)."""
        return cls(paths.duckdb_path, lake_at(paths), paths.work_dir, memory_limit)

    @classmethod
    def from_settings(cls, settings: Settings, memory_limit: str | None = None) -> TableStore:
        """The deployment's store with its lake where the settings put it (`GEX_LAKE_URI`)."""
        from gex_pipeline.lib.lake.remote import settings_lake

        paths = settings.paths
        limit = memory_limit or settings.history.duckdb_memory_limit
        return cls(paths.duckdb_path, settings_lake(settings), paths.work_dir, limit)

    def claim(self, partition: Partition) -> Sealed | None:
        """Seal `partition` out of `gex_data.db` when the loader still holds rows of it."""
        return claim_partition(self.db_path, self.lake, partition, work_dir=self.work_dir)

    def live(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection to `gex_data.db` holding the writer lock (keep it short)."""
        from gex_pipeline.lib.db.connection import connect

        return connect(self.db_path)

    def workspace(self, partition: Partition) -> AbstractContextManager[Workspace]:
        """A private DuckDB for batch work on `partition` (claim it first)."""
        return workspace(
            self.lake,
            partition,
            memory_limit=self.memory_limit,
            temp_dir=self.work_dir,
            tables=self.tables,
        )

    @contextmanager
    def reader(
        self,
        partition: Partition,
        names: Iterable[str] | None = None,
        *,
        latest: bool = True,
        local_copies: bool = False,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only DuckDB over the lake's rows of `partition` (views named like the tables:
        `names`, else every table that can hold it) at their latest versions; not `latest`: at
        the versions this store's tables last saw (what a job just wrote, no round trips).
        `local_copies` (a reader that reads the whole partition, an export's): on object storage
        the partition's files are fetched once into a scratch directory (removed on exit) and
        read from there, by the views and by the export (`LocalCopies`)."""
        import duckdb

        from gex_pipeline.lib.lake.remote import LocalCopies, on_object_storage

        con = duckdb.connect()
        scratch = None
        try:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            if local_copies and on_object_storage(self.lake):
                self.work_dir.mkdir(parents=True, exist_ok=True)
                scratch = tempfile.TemporaryDirectory(prefix=".reader-", dir=self.work_dir)
                self.tables.copies = LocalCopies(Path(scratch.name), self.lake.options())
            attach_partition(
                con, self.tables, partition, names, latest=latest, copies=self.tables.copies
            )
            yield con
        finally:
            con.close()
            self.tables.copies = None
            if scratch is not None:
                scratch.cleanup()
