"""Apply the versioned DuckDB schema (`schema_version` + ordered forward migrations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gex_pipeline.lib.db.migrations import MIGRATIONS, Migration

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """Highest applied schema version (0 for an empty database)."""
    con.execute(SCHEMA_VERSION_DDL)
    rows = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
    return int(rows[0][0])


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Version the code expects once every migration is applied."""
    return max((m.version for m in migrations), default=0)


def migrate(con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply every pending migration, each in its own transaction; return the resulting version.

    Idempotent: applied versions are skipped. A failing migration rolls back completely and
    leaves the database at the previous version. A database newer than the code is refused.
    """
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError(f"migration versions must be unique and increasing, got {versions}")
    version = current_version(con)
    if version > latest_version(migrations):
        raise RuntimeError(
            f"database schema version {version} is newer than this code "
            f"({latest_version(migrations)}); upgrade gex-pipeline"
        )
    for migration in migrations:
        if migration.version <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                [migration.version, migration.description],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = migration.version
    return version
