"""Project resources: the tables (live DuckDB file + lake), the staging area and the Parquet store.

`build_resources` sets every path from the settings when the definitions load (the Resources page
shows them); the resources themselves never read the environment. Sensors never open the tables.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from gex_pipeline.lib.lake.remote import settings_lake
from gex_pipeline.lib.lake.store import DEFAULT_MEMORY_LIMIT, TableStore
from gex_pipeline.lib.lake.tables import Lake
from gex_pipeline.lib.staging import reader
from gex_pipeline.lib.staging.layout import StreamDirs, stream_dirs
from gex_pipeline.settings import Settings


class Tables(dg.ConfigurableResource):
    """The tables: the live loader's DuckDB file (open partitions) and the lake (every closed
    partition, Delta tables). Assets claim a partition, then read or replace it in the lake
    (`gex_pipeline.lib.lake.store.TableStore`)."""

    database: str = Field(description="the live DuckDB file ($GEX_DATA_DIR/gex_data.db)")
    lake: str = Field(description="root of the Delta tables ($GEX_DATA_DIR/lake or GEX_LAKE_URI)")
    lake_options: dict[str, str] = Field(
        default_factory=dict,
        description="object store options of a shared lake (GEX_LAKE_S3_*), credentials aside",
    )
    lake_access_key_id: str | None = Field(
        default=None, description="GEX_LAKE_S3_ACCESS_KEY_ID (read from the environment)"
    )
    lake_secret_access_key: str | None = Field(
        default=None, description="GEX_LAKE_S3_SECRET_ACCESS_KEY (read from the environment)"
    )
    lake_host: str | None = Field(
        default=None, description="this host's name in a shared lake (GEX_LAKE_HOST)"
    )
    work_dir: str = Field(description="scratch space of batch jobs ($GEX_DATA_DIR/tmp)")
    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT,
        description="DuckDB memory_limit of a job's workspace (GEX_HISTORY_DUCKDB_MEMORY_LIMIT)",
    )

    def db_path(self) -> Path:
        """The live DuckDB file."""
        return Path(self.database)

    def store(self) -> TableStore:
        """The store batch jobs work through."""
        return TableStore(
            self.db_path(), self.lake_location(), Path(self.work_dir), self.memory_limit
        )

    def lake_location(self) -> Lake:
        """The lake with its object store options and credentials."""
        options = dict(self.lake_options)
        if self.lake_access_key_id:
            options["AWS_ACCESS_KEY_ID"] = self.lake_access_key_id
        if self.lake_secret_access_key:
            options["AWS_SECRET_ACCESS_KEY"] = self.lake_secret_access_key
        return Lake(self.lake, options, host=self.lake_host)


class StagingArea(dg.ConfigurableResource):
    """The staging area written by the ingest API (local directory; object storage later)."""

    root: str = Field(description="staging dir ($GEX_DATA_DIR/staging)")
    retention_days: int = Field(
        description="days processed segments are kept (GEX_STAGING_RETENTION_DAYS)"
    )

    def stream(self, stream: str) -> StreamDirs:
        """Directories of one stream (`gex`, `uw`)."""
        return stream_dirs(Path(self.root), stream)

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
    lake = settings_lake(settings)
    secrets = {"AWS_ACCESS_KEY_ID": "GEX_LAKE_S3_ACCESS_KEY_ID"}
    secrets["AWS_SECRET_ACCESS_KEY"] = "GEX_LAKE_S3_SECRET_ACCESS_KEY"
    credentials = {  # shown by name on the Resources page, read from the environment by runs
        option: dg.EnvVar(variable)
        for option, variable in secrets.items()
        if option in lake.storage_options
    }
    return {
        "tables": Tables(
            database=str(paths.duckdb_path),
            lake=lake.root,
            lake_options={k: v for k, v in lake.storage_options.items() if k not in secrets},
            lake_access_key_id=credentials.get("AWS_ACCESS_KEY_ID"),
            lake_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
            lake_host=lake.host,
            work_dir=str(paths.work_dir),
            memory_limit=settings.history.duckdb_memory_limit,
        ),
        "staging": StagingArea(
            root=str(paths.staging_dir), retention_days=settings.pipeline.staging_retention_days
        ),
        "parquet": ParquetStore(root=str(paths.parquet_dir), views_file=str(paths.views_path)),
    }
