"""Project resources: the DuckDB database, the staging area and the Parquet store.

`build_resources` sets every path from the settings when the definitions load (the Resources page
shows them); the resources themselves never read the environment.
Only assets in the `duckdb_writer` pool may call `DuckDBDatabase.connect()`; sensors never do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.staging import reader
from gex_pipeline.lib.staging.layout import StreamDirs, stream_dirs
from gex_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb


class DuckDBDatabase(DuckDBResource):
    """dagster-duckdb's `DuckDBResource` for `gex_data.db`, opened through the project's
    `lib.db.connection.connect`: the inter-process writer lock first, pending migrations applied,
    and the connection closed in `finally` (the base class leaves it open when the block raises)."""

    database: str = Field(description="DuckDB file ($GEX_DATA_DIR/gex_data.db)")

    def db_path(self) -> Path:
        """The database file this resource opens."""
        return Path(self.database)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection with the schema up to date, closed in `finally`."""
        with connect(self.db_path()) as con:
            migrate(con)
            yield con

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The same as `get_connection()` (the name the project's code uses)."""
        return self.get_connection()


class StagingArea(dg.ConfigurableResource):
    """The staging area written by the ingest API (local directory; object storage later)."""

    root: str = Field(description="staging dir ($GEX_DATA_DIR/staging)")
    retention_days: int = Field(
        description="days processed segments are kept (GEX_STAGING_RETENTION_DAYS)"
    )

    def stream(self, stream: str) -> StreamDirs:
        """Directories of one stream (`gex`, `uw`)."""
        return stream_dirs(Path(self.root), stream)

    def list_sealed(
        self, stream: str, after_seq: int = 0, limit: int | None = None
    ) -> list[reader.Segment]:
        """Sealed segments above `after_seq`, oldest first."""
        return reader.list_sealed(self.stream(stream), after_seq, limit)

    def feeds(self, segment: reader.Segment) -> set[tuple[str, str]]:
        """`(ticker, endpoint)` pairs present in a gex segment."""
        return reader.segment_feeds(segment.path)

    def mark_processed(self, stream: str, names: list[str]) -> int:
        """Move committed segments to `processed/` (idempotent); return how many moved now."""
        return reader.move_to_processed(self.stream(stream), names)

    def reject(self, stream: str, name: str, reason: str) -> str:
        """Set a segment whose content cannot be loaded aside in `rejected/`; return where it went."""
        return str(reader.reject_segment(self.stream(stream), name, reason))

    def purge_processed(self, stream: str) -> list[str]:
        """Delete processed segments older than the retention; return their names."""
        return reader.purge_processed(self.stream(stream), self.retention_days)


class ParquetStore(dg.ConfigurableResource):
    """Root of the exported Parquet files (`<root>/<TICKER>/<endpoint>/<YYYYMMDD>.strikes.parquet`)."""

    root: str = Field(description="Parquet root ($GEX_DATA_DIR/parquet/gexbot)")
    views_file: str = Field(
        description="read-only views for notebooks ($GEX_DATA_DIR/gex_views.duckdb)"
    )

    def root_dir(self) -> Path:
        """The Parquet root directory."""
        return Path(self.root)

    def views_path(self) -> Path:
        """The DuckDB file of reader views over the Parquet files."""
        return Path(self.views_file)


def build_resources(settings: Settings) -> dict[str, object]:
    """The shared resources with every path resolved from the settings (shown on the UI's
    Resources page)."""
    paths = settings.paths
    return {
        "duckdb_database": DuckDBDatabase(database=str(paths.duckdb_path)),
        "staging": StagingArea(
            root=str(paths.staging_dir), retention_days=settings.pipeline.staging_retention_days
        ),
        "parquet": ParquetStore(root=str(paths.parquet_dir), views_file=str(paths.views_path)),
    }
