"""Seal an open partition: move it from the live loader's DuckDB file to the lake for good.

Sealing a partition (a date x feed of the GEX tables, or a date of the webhook tables):
1. mirrors whatever the lake still lacks of it (`mirror.py`, compared whole);
2. compacts its lake files into one file per table, sorted (the mirror wrote many small ones);
3. records the strike figures the checks use (`gex_partition_figures`, from the lake's rows);
4. deletes its rows from `gex_data.db` and notes it in `sealed_partitions`, in one transaction.
Each lake step is one commit and can be repeated: a crash anywhere leaves the partition readable
and complete in the lake, and the next seal finishes the job. The caller holds the writer lock
of `gex_data.db` (the live loader between batches, or a batch job that needs the partition:
`claim_partition`), for one partition at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.mirror import mirror
from gex_pipeline.lib.lake.reads import register
from gex_pipeline.lib.lake.tables import (
    GEX_TABLES,
    LIVE_TABLES,
    SPECS,
    Lake,
    Partition,
    partition_files,
)
from gex_pipeline.lib.lake.writes import is_lasting, lake_rows, replace

if TYPE_CHECKING:
    import duckdb

SEAL_WRITER = "seal"
COMPACT_MEMORY_LIMIT = "1GB"
_FIGURES_TABLE = "gex_partition_figures"


@dataclass(frozen=True)
class Sealed:
    """What sealing one partition did."""

    partition: Partition
    mirrored_rows: int
    compacted_tables: tuple[str, ...]
    hot_rows_deleted: int


def live_tables_of(partition: Partition) -> tuple[str, ...]:
    """The live tables a partition belongs to (GEX tables for a feed-day, webhook tables for a
    date)."""
    by_feed = partition.feed is not None
    return tuple(n for n in LIVE_TABLES if SPECS[n].by_feed == by_feed)


def hot_partitions(con: duckdb.DuckDBPyConnection) -> list[Partition]:
    """Every partition with rows in `gex_data.db`, oldest first."""
    feeds = " UNION ".join(
        f"SELECT DISTINCT trade_date, ticker || '.' || endpoint FROM {n}"
        for n in LIVE_TABLES
        if SPECS[n].by_feed
    )
    days = " UNION ".join(
        f"SELECT DISTINCT trade_date, NULL FROM {n}" for n in LIVE_TABLES if not SPECS[n].by_feed
    )
    rows = con.execute(f"SELECT * FROM ({feeds} UNION {days}) ORDER BY 1, 2 NULLS FIRST").fetchall()
    return [Partition(r[0], r[1]) for r in rows]


def _compact(lake: Lake, name: str, partition: Partition, work_dir: Path | None) -> bool:
    """Rewrite the partition of one lake table as one sorted zstd file; False when it already is
    one lasting file (a live pass's single transient file is rewritten)."""
    import duckdb

    spec = SPECS[name]
    part = partition.for_table(spec)
    table = lake.open(name)
    if table is None:
        return False
    files = partition_files(table, part)
    if not files or (len(files) == 1 and is_lasting(str(files[0]["path"]))):
        return False
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{COMPACT_MEMORY_LIMIT}'")
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = '{work_dir}'")
        register(con, name, table, name, [part], with_feed=False)
        rows = lake_rows(con, name, f"SELECT * FROM {name} ORDER BY {spec.sort}")
        replace(lake, name, part, rows, writer=SEAL_WRITER, base=table)
    return True


def record_figures(lake: Lake, partition: Partition) -> None:
    """Replace the partition's `gex_partition_figures` with figures computed from the lake's
    strike rows (none when it has no strike rows)."""
    import duckdb

    from gex_pipeline.lib.gex.partition_figures import figures_select

    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{COMPACT_MEMORY_LIMIT}'")
        register(con, "gex_strikes", lake.open("gex_strikes"), "gex_strikes", [partition])
        rows = lake_rows(
            con, _FIGURES_TABLE, figures_select(f"gex_strikes WHERE {partition.sql()}")
        )
        replace(lake, _FIGURES_TABLE, partition, rows, writer=SEAL_WRITER)


def seal(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    partition: Partition,
    *,
    work_dir: Path | None = None,
) -> Sealed:
    """Seal `partition` (see the module docstring); `con` is `gex_data.db`, writer lock held."""
    tables = live_tables_of(partition)
    mirrored = mirror(con, lake, since=None, only=partition, tables=tables).rows
    compacted = tuple(n for n in tables if _compact(lake, n, partition, work_dir))
    if partition.feed is not None:
        record_figures(lake, partition)
    deleted = 0
    hot_tables = (*tables, _FIGURES_TABLE) if partition.feed is not None else tables
    con.execute("BEGIN TRANSACTION")
    try:
        for name in hot_tables:
            rows = con.execute(
                f"DELETE FROM {name} WHERE {partition.for_table(SPECS[name]).sql()}"
            ).fetchall()
            deleted += int(rows[0][0]) if rows else 0
        con.execute(
            "INSERT OR REPLACE INTO sealed_partitions VALUES ($d, $f, now())",
            {"d": partition.trade_date, "f": partition.feed or ""},
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return Sealed(partition, mirrored, compacted, deleted)


def sealable(con: duckdb.DuckDBPyConnection, today: date) -> list[Partition]:
    """Open partitions of dates before `today` (America/New_York), oldest first."""
    return [p for p in hot_partitions(con) if p.trade_date < today]


def is_hot(con: duckdb.DuckDBPyConnection, partition: Partition) -> bool:
    """Whether `gex_data.db` holds rows of the partition (feed-day: any GEX table)."""
    names = GEX_TABLES if partition.feed is not None else live_tables_of(partition)
    for name in names:
        if name not in LIVE_TABLES and name != _FIGURES_TABLE:
            continue
        found = con.execute(
            f"SELECT 1 FROM {name} WHERE {partition.for_table(SPECS[name]).sql()} LIMIT 1"
        ).fetchall()
        if found:
            return True
    return False


def claim_partition(
    db_path: Path, lake: Lake, partition: Partition, *, work_dir: Path | None = None
) -> Sealed | None:
    """Make the lake the only holder of `partition` before a batch job replaces it: seal it when
    `gex_data.db` still has rows of it (takes the writer lock for that long)."""
    from gex_pipeline.lib.db.connection import connect
    from gex_pipeline.lib.db.schema import migrate

    with connect(db_path) as con:
        migrate(con)
        if is_hot(con, partition):
            return seal(con, lake, partition, work_dir=work_dir)
    return None
