"""Move a `gex_data.db` of the single-file layout into the lake, without loss, verified.

Before the lake, `gex_data.db` held every partition. `migrate_store`:
1. renames it to `gex_data.pre-lake-<stamp>.db` (kept until `gex-pipeline migrate --drop-old`);
2. copies every partition of every data table into the lake, one replace per partition (memory
   stays bounded, and an interrupted migration resumes: it finds the kept file and goes on);
3. creates a new `gex_data.db` with the load bookkeeping of the old one (its data tables empty:
   every partition is in the lake, and the live loader opens today's again as rows arrive);
4. verifies every table: the lake holds the same rows as the old file (row count and an
   order-independent hash of every column), and refuses to finish otherwise.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import register
from gex_pipeline.lib.lake.tables import SPECS, Lake, Partition, duckdb_columns
from gex_pipeline.lib.lake.writes import lake_rows, replace
from gex_pipeline.lib.staging.durable_fs import fsync_dir, write_atomic

if TYPE_CHECKING:
    import duckdb

MIGRATE_WRITER = "migrate"
LAKE_SCHEMA_VERSION = 6
KEPT_PREFIX = "gex_data.pre-lake-"
PROGRESS_FILE = "migrate-progress.json"
BOOKKEEPING = ("loaded_segments", "loaded_partitions", "loaded_webhook_days")
_OLD = "old_store"


class MigrationFailed(Exception):
    """The lake does not hold what the old file held; the message names the table."""


@dataclass
class MigrationReport:
    """What a migration moved and verified."""

    kept: Path | None = None
    partitions: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    verified: bool = False


def needs_migration(db_path: Path) -> bool:
    """Whether `db_path` is a single-file store (schema before the lake) holding data, or a
    migration was interrupted (a kept file without a finished marker)."""
    if _kept_files(db_path):
        return True
    if not db_path.is_file():
        return False
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "schema_version" not in tables or "gex_snapshots" not in tables:
            return False
        version = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
        return int(version[0][0]) < LAKE_SCHEMA_VERSION


def _kept_files(db_path: Path) -> list[Path]:
    return sorted(
        p
        for p in db_path.parent.glob(f"{KEPT_PREFIX}*.db")
        if not p.with_name(p.name + ".migrated").exists()
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _partitions(con: duckdb.DuckDBPyConnection, name: str) -> list[Partition]:
    by_feed = SPECS[name].by_feed
    columns = "trade_date, ticker || '.' || endpoint" if by_feed else "trade_date"
    rows = con.execute(f"SELECT DISTINCT {columns} FROM {_OLD}.{name} ORDER BY ALL").fetchall()
    return [Partition(r[0], r[1] if by_feed else None) for r in rows]


def _old_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [_OLD]
    ).fetchall()
    return {r[0] for r in rows}


def table_fingerprint(con: duckdb.DuckDBPyConnection, source: str, name: str) -> tuple[int, str]:
    """(rows, order-independent hash of every DuckDB column as text) of a table or view."""
    cast = ", ".join(f"CAST({_ident(c)} AS VARCHAR)" for c in duckdb_columns(name))
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash({cast})::HUGEINT), 0) FROM {source}"
    ).fetchall()[0]
    return int(rows), str(total)


def migrate_store(db_path: Path, lake: Lake, *, now: datetime | None = None) -> MigrationReport:
    """Migrate `db_path` into `lake` (see the module docstring); the caller stopped the stack."""
    import duckdb

    from gex_pipeline.lib.db.connection import connect
    from gex_pipeline.lib.db.schema import migrate
    from gex_pipeline.lib.db.writer import writer_lock

    report = MigrationReport()
    with writer_lock(db_path):
        kept = _kept_files(db_path)
        if kept:
            old = kept[-1]
        else:
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
            old = db_path.with_name(f"{KEPT_PREFIX}{stamp}.db")
            for suffix in ("", ".wal"):
                source = db_path.with_name(db_path.name + suffix)
                if source.exists():
                    os.replace(source, old.with_name(old.name + suffix))
            fsync_dir(db_path.parent)
        report.kept = old
        progress_path = old.with_name(old.name + "." + PROGRESS_FILE)
        done: set[str] = (
            set(json.loads(progress_path.read_text())) if progress_path.exists() else set()
        )
        with duckdb.connect() as con:
            con.execute("SET memory_limit = '1GB'")
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"ATTACH '{old}' AS {_OLD} (READ_ONLY)")
            present = _old_tables(con)
            for name in SPECS:
                if name not in present:
                    continue
                spec = SPECS[name]
                for partition in _partitions(con, name):
                    key = f"{name}/{partition}"
                    if key in done:
                        continue
                    query = (
                        f"SELECT * FROM {_OLD}.{name} WHERE {partition.sql()} ORDER BY {spec.sort}"
                    )
                    replace(
                        lake, name, partition, lake_rows(con, name, query), writer=MIGRATE_WRITER
                    )
                    done.add(key)
                    write_atomic(progress_path, json.dumps(sorted(done)).encode())
                    report.partitions += 1
            report.rows = _verify(con, lake, present)
            report.verified = True
        with connect(db_path) as live:
            migrate(live)
            live.execute(f"ATTACH '{old}' AS {_OLD} (READ_ONLY)")
            try:
                # A store killed between the schema steps of its first start lacks the later tables.
                for name in (n for n in BOOKKEEPING if n in present):
                    if live.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] == 0:
                        live.execute(f"INSERT INTO {name} SELECT * FROM {_OLD}.{name}")
            finally:
                live.execute(f"DETACH {_OLD}")
        write_atomic(
            old.with_name(old.name + ".migrated"),
            json.dumps({"rows": report.rows, "lake": lake.root}, indent=1).encode(),
        )
        progress_path.unlink(missing_ok=True)
    return report


def _verify(con: duckdb.DuckDBPyConnection, lake: Lake, present: set[str]) -> dict[str, int]:
    """Compare every table of the old file with the lake (rows and hash); raise when they differ."""
    rows: dict[str, int] = {}
    for name in SPECS:
        if name not in present:
            continue
        old = table_fingerprint(con, f"{_OLD}.{name}", name)
        register(con, f"lake_{name}", lake.open(name), name)
        new = table_fingerprint(con, f"lake_{name}", name)
        if old != new:
            raise MigrationFailed(
                f"{name}: the old file holds {old[0]} rows (hash {old[1]}), the lake {new[0]} "
                f"(hash {new[1]}); the old file is kept, run migrate again"
            )
        rows[name] = old[0]
    return rows


def drop_old(db_path: Path) -> list[Path]:
    """Delete the kept pre-lake files of finished migrations; return what went."""
    gone = []
    for marker in db_path.parent.glob(f"{KEPT_PREFIX}*.db.migrated"):
        old = marker.with_name(marker.name.removesuffix(".migrated"))
        for path in (old, old.with_name(old.name + ".wal"), marker):
            if path.exists():
                path.unlink()
                gone.append(path)
    return gone
