"""Write lake tables from DuckDB: append rows, or replace one partition atomically.

Rows come from a DuckDB query over tables with the DuckDB columns of the lake table (the `feed`
partition column is added here). Every commit records who wrote it and the partitions it touched
in its commit info (`gex.writer`, `gex.partitions`), so the history of a table says which job
changed which partition (`restore` lists them). A replace is one Delta commit: readers see the old
partition or the new one. Concurrent writers are arbitrated by Delta's optimistic concurrency: a
replace whose partition another writer changed meanwhile fails with `CommitFailedError` instead
of overwriting what it did not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.tables import FEED_COLUMN, SPECS, Lake, Partition, lake_columns
from gex_pipeline.lib.lake.tables import lake_schema as _lake_schema

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from deltalake import DeltaTable

WRITER_KEY = "gex.writer"
PARTITIONS_KEY = "gex.partitions"
# zstd level 1: a full day of strike rows (2.8 M) writes in ~2 s; level 3 makes files ~30 % smaller
# for ~50 % more write time, which would put an import past 1.5x the parse of its file.
COMPRESSION_LEVEL = 1
# Files of about this size (rows of one partition) keep reads of a day to one or a few files.
TARGET_FILE_BYTES = 256 * 1024**2
# The live loader's passes write a few rows per partition every few seconds, files its roll-up or
# the seal soon rewrites (zstd): snappy sets up each column chunk for less CPU than zstd, which on
# files of a few rows costs more than the compression itself.
TRANSIENT_COMPRESSION = "SNAPPY"


def is_lasting(path: str) -> bool:
    """Whether a lake file is in its lasting form (zstd), not a live pass's transient file that the
    roll-up or the seal rewrites (delta-rs names each file after its codec: `*.zstd.parquet`)."""
    return path.endswith(".zstd.parquet")


def select_for_lake(name: str, query: str) -> str:
    """A DuckDB SELECT over `query` (rows with the DuckDB columns of table `name`) in the lake
    table's column order, with the `feed` column when the table has one."""
    columns = ", ".join(f'"{c}"' for c in lake_columns(name))
    if SPECS[name].by_feed:
        columns += f", ticker || '.' || endpoint AS {FEED_COLUMN}"
    return f"SELECT {columns} FROM ({query})"


def lake_rows(
    con: duckdb.DuckDBPyConnection, name: str, query: str, params: dict[str, object] | None = None
) -> pa.RecordBatchReader:
    """The rows of `query` as a stream in the lake table's schema (timestamps in UTC)."""
    con.execute("SET TimeZone = 'UTC'")
    relation = con.sql(select_for_lake(name, query), params=params)
    return relation.to_arrow_reader().cast(_lake_schema(name))


def writer_properties(name: str, *, transient: bool = False) -> object:
    """Parquet writer settings of table `name`'s files: zstd (`COMPRESSION_LEVEL`; `transient`:
    `TRANSIENT_COMPRESSION`), dictionary encoding only for the columns whose values repeat (not
    floats, or named in the table's sort order, like `strike`), not for measures, which rarely
    repeat (trying a dictionary on them cost ~10-15 % of a day's write and left files ~3 % larger)."""
    from deltalake import ColumnProperties, WriterProperties

    sort = {c.strip().strip('"') for c in SPECS[name].sort.split(",")}
    repeating = [f.name for f in _lake_schema(name) if f.name in sort or not _is_float(f.type)]
    return WriterProperties(
        compression=TRANSIENT_COMPRESSION if transient else "ZSTD",
        compression_level=None if transient else COMPRESSION_LEVEL,
        default_column_properties=ColumnProperties(dictionary_enabled=False),
        column_properties=dict.fromkeys(repeating, ColumnProperties(dictionary_enabled=True)),
    )


def _is_float(kind: pa.DataType) -> bool:
    """A float type, or a list of them."""
    import pyarrow as pa

    while pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return pa.types.is_floating(kind)


def commit_info(writer: str, partitions: Iterable[Partition]) -> object:
    """Commit properties naming the writer and the partitions its commit touches."""
    from deltalake import CommitProperties

    touched = sorted({str(p) for p in partitions})
    return CommitProperties(
        custom_metadata={WRITER_KEY: writer, PARTITIONS_KEY: json.dumps(touched)}
    )


def post_commit() -> object:
    """What runs after each commit: a checkpoint when one is due, but no sweep of expired log
    files (it lists the whole log, which holds `delta.logRetentionDuration` of commits, on every
    commit; the maintenance job sweeps once a day: `maintenance.py`)."""
    from deltalake import PostCommitHookProperties

    return PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


def append(
    lake: Lake,
    name: str,
    rows: pa.RecordBatchReader | pa.Table,
    *,
    writer: str,
    partitions: Iterable[Partition],
    table: DeltaTable | None = None,
    transient: bool = False,
) -> None:
    """Append `rows` (lake schema) to table `name` (`table`: it, already open), creating the
    table when missing; `transient`: files soon rewritten (`writer_properties`)."""
    from deltalake import write_deltalake

    table = table if table is not None else lake.ensure(name)
    write_deltalake(
        table,
        rows,
        mode="append",
        partition_by=list(SPECS[name].partition_by),
        writer_properties=writer_properties(name, transient=transient),  # type: ignore[arg-type]
        target_file_size=TARGET_FILE_BYTES,
        commit_properties=commit_info(writer, partitions),  # type: ignore[arg-type]
        post_commithook_properties=post_commit(),  # type: ignore[arg-type]
    )


def replace(
    lake: Lake,
    name: str,
    partition: Partition,
    rows: pa.RecordBatchReader | pa.Table,
    *,
    writer: str,
    base: DeltaTable | None = None,
) -> DeltaTable:
    """Make `rows` the whole content of `partition` of table `name`, in one commit; returns the
    table at the version the commit made.

    `base` is the table as the caller read it; when another writer changed the partition since,
    the commit fails (`deltalake.exceptions.CommitFailedError`) and nothing changes.
    """
    from deltalake import write_deltalake

    spec = SPECS[name]
    part = partition.for_table(spec)
    table = base if base is not None else lake.ensure(name)
    write_deltalake(
        table,
        rows,
        mode="overwrite",
        predicate=part.predicate(),
        partition_by=list(spec.partition_by),
        writer_properties=writer_properties(name),  # type: ignore[arg-type]
        target_file_size=TARGET_FILE_BYTES,
        commit_properties=commit_info(writer, [part]),  # type: ignore[arg-type]
        post_commithook_properties=post_commit(),  # type: ignore[arg-type]
    )
    return table


def empty_rows(name: str) -> pa.Table:
    """No rows, in the schema of lake table `name` (a replace with it empties a partition)."""
    return _lake_schema(name).empty_table()
