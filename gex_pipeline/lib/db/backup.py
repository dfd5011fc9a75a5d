"""Consistent backups of `gex_data.db` while the stack runs, their manifest, verify and restore.

A backup is a directory `<backups>/db/<UTC stamp>/` holding `gex_data.db` (a complete DuckDB
database written by `COPY FROM DATABASE` while this process holds the writer lock, so no writer
changes the source meanwhile) and `manifest.json` (row count, key checksum and row checksum of
every table, the file's sha256, the DuckDB and schema versions). It is built under a hidden temp
name, fsynced and renamed into place: a listed backup is always complete. Restoring swaps the
backup file in under the writer lock and keeps the replaced database aside.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.writer import writer_lock
from gex_pipeline.lib.staging.durable_fs import fsync_dir

if TYPE_CHECKING:
    import duckdb

BACKUP_FILE = "gex_data.db"
MANIFEST_FILE = "manifest.json"
FORMAT = "duckdb-copy-from-database/1"
REPLACED_DIR = "replaced"
_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
_ATTACHED = "gex_backup_target"
# Natural keys of tables without a primary key (the others use their primary key).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "gex_strikes": ("ticker", "endpoint", "timestamp", "strike"),
    "gex_conflicts": ("ticker", "endpoint", "kind", "timestamp", "content_hash"),
    "webhook_conflicts": ("id", "segment", "line"),
}


class BackupInvalid(Exception):
    """A backup is incomplete or does not match its manifest; the message says what differs."""


class RestoreRefused(Exception):
    """A restore that would overwrite a database without `force`."""


@dataclass(frozen=True)
class TableSummary:
    """What a table holds: its rows, a checksum of its keys and one of its whole rows."""

    rows: int
    key_columns: list[str]
    key_checksum: str
    row_checksum: str


@dataclass(frozen=True)
class Backup:
    """One backup directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def db_file(self) -> Path:
        return self.path / BACKUP_FILE

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return self.manifest["tables"]


@dataclass(frozen=True)
class RestoreResult:
    """Where the restored database is and where the replaced one was kept (None: there was none)."""

    database: Path
    replaced: Path | None


def _quote(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'"
        " AND NOT temporary ORDER BY table_name",
        [catalog],
    ).fetchall()
    return [r[0] for r in rows]


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main'"
        " AND table_name = ? ORDER BY column_index",
        [catalog, table],
    ).fetchall()
    return [r[0] for r in rows]


def _key_columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    if table in NATURAL_KEYS:
        return list(NATURAL_KEYS[table])
    rows = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = ?"
        " AND schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [catalog, table],
    ).fetchall()
    return list(rows[0][0]) if rows else _columns(con, catalog, table)


def table_checksum(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], catalog: str | None = None
) -> tuple[int, str]:
    """(rows, order-independent checksum of `columns`) of `table`: the sum of each row's hash."""
    where = f"{_ident(catalog)}.main.{_ident(table)}" if catalog else _ident(table)
    packed = "struct_pack(" + ", ".join(f"{_ident(c)} := {_ident(c)}" for c in columns) + ")"
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash({packed})::HUGEINT), 0) FROM {where}"
    ).fetchall()[0]
    return int(rows), str(total)


def summarize(
    con: duckdb.DuckDBPyConnection, catalog: str | None = None
) -> dict[str, TableSummary]:
    """Row count, key checksum and row checksum of every table of `catalog` (default: current)."""
    catalog = catalog or con.execute("SELECT current_database()").fetchall()[0][0]
    out = {}
    for table in _tables(con, catalog):
        keys = _key_columns(con, catalog, table)
        rows, key_sum = table_checksum(con, table, keys, catalog)
        _, row_sum = table_checksum(con, table, _columns(con, catalog, table), catalog)
        out[table] = TableSummary(rows, keys, key_sum, row_sum)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _schema_version(con: duckdb.DuckDBPyConnection, catalog: str) -> int:
    if "schema_version" not in _tables(con, catalog):
        return 0
    rows = con.execute(
        f"SELECT coalesce(max(version), 0) FROM {_ident(catalog)}.main.schema_version"
    ).fetchall()
    return int(rows[0][0])


def take_backup(db_path: Path, backups_root: Path, now: datetime | None = None) -> Backup:
    """Back up `db_path` into `<backups_root>/<UTC stamp>/` while holding the writer lock.

    The copy is checked against the source (same rows and checksums, table by table) before
    the backup is published. Raises FileNotFoundError when there is no database.
    """
    import duckdb

    if not db_path.is_file():
        raise FileNotFoundError(f"no database at {db_path}")
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    final = backups_root / stamp
    if final.exists():
        raise FileExistsError(f"a backup {final} already exists")
    work = backups_root / f".{stamp}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        target = work / BACKUP_FILE
        with connect(db_path) as con:
            source = con.execute("SELECT current_database()").fetchall()[0][0]
            con.execute(f"ATTACH {_quote(target)} AS {_ATTACHED}")
            try:
                con.execute(f"COPY FROM DATABASE {_ident(source)} TO {_ATTACHED}")
                con.execute(f"CHECKPOINT {_ATTACHED}")
                expected = summarize(con, source)
                copied = summarize(con, _ATTACHED)
                schema_version = _schema_version(con, source)
            finally:
                con.execute(f"DETACH {_ATTACHED}")
        if copied != expected:
            raise BackupInvalid(
                f"the copy of {db_path} differs from the source: {_diff(expected, copied)}"
            )
        _fsync_file(target)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "source": str(db_path),
            "file": BACKUP_FILE,
            "bytes": target.stat().st_size,
            "sha256": _sha256(target),
            "duckdb_version": duckdb.__version__,
            "schema_version": schema_version,
            "tables": {name: asdict(s) for name, s in copied.items()},
        }
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _fsync_file(work / MANIFEST_FILE)
        fsync_dir(work)
        os.rename(work, final)
        fsync_dir(backups_root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Backup(final, manifest)


def _diff(expected: dict[str, TableSummary], actual: dict[str, TableSummary]) -> str:
    problems = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None:
            problems.append(f"table {name} {'missing' if got is None else 'unexpected'}")
        elif want != got:
            problems.append(
                f"table {name}: rows {got.rows} (expected {want.rows}), "
                f"key checksum {'ok' if want.key_checksum == got.key_checksum else 'differs'}, "
                f"row checksum {'ok' if want.row_checksum == got.row_checksum else 'differs'}"
            )
    return "; ".join(problems)


def load_backup(path: Path) -> Backup:
    """Read a backup directory's manifest; BackupInvalid when it is not a complete backup."""
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir() or not manifest_path.is_file():
        raise BackupInvalid(f"{path} is not a database backup (no {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise BackupInvalid(f"{manifest_path}: unreadable manifest: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupInvalid(f"{manifest_path}: unknown format {manifest.get('format')!r}")
    if not (path / BACKUP_FILE).is_file():
        raise BackupInvalid(f"{path}: {BACKUP_FILE} is missing")
    return Backup(path, manifest)


def summarize_file(db_file: Path) -> dict[str, TableSummary]:
    """`summarize` of a database file nobody writes (a backup), opened read-only."""
    import duckdb

    con = duckdb.connect(str(db_file), read_only=True)
    try:
        return summarize(con)
    finally:
        con.close()


def verify_backup(path: Path) -> Backup:
    """Check a backup: its file's sha256, then every table's rows and checksums against the manifest.

    Returns the backup; raises BackupInvalid naming what differs.
    """
    backup = load_backup(path)
    if _sha256(backup.db_file) != backup.manifest["sha256"]:
        raise BackupInvalid(f"{backup.db_file}: sha256 differs from the manifest (file damaged)")
    expected = {name: TableSummary(**s) for name, s in backup.tables.items()}
    actual = summarize_file(backup.db_file)
    if actual != expected:
        raise BackupInvalid(f"{path}: {_diff(expected, actual)}")
    return backup


def list_backups(backups_root: Path) -> list[Path]:
    """Published backup directories under `backups_root`, oldest first."""
    if not backups_root.is_dir():
        return []
    return sorted(
        p
        for p in backups_root.iterdir()
        if p.is_dir() and _STAMP.match(p.name) and (p / MANIFEST_FILE).is_file()
    )


def prune_backups(backups_root: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (`keep` <= 0 keeps all); return what went."""
    if keep <= 0:
        return []
    doomed = list_backups(backups_root)[:-keep]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def restore_database(
    backup_path: Path, db_path: Path, *, force: bool = False, now: datetime | None = None
) -> RestoreResult:
    """Make `db_path` a copy of the backup, under the writer lock, keeping the replaced file aside.

    The backup is verified first. An existing database is only replaced with `force`; it is then
    moved (with its WAL) to `<backup root>/replaced/<name>-<stamp>.db`. The restored file is checked
    against the manifest before it is swapped in. Raises BackupInvalid or RestoreRefused, in which
    case nothing changed.
    """
    backup = verify_backup(backup_path)
    replaced_dir = backup_path.parent / REPLACED_DIR
    wal = db_path.with_name(db_path.name + ".wal")
    with writer_lock(db_path):
        if db_path.exists() and not force:
            raise RestoreRefused(
                f"{db_path} exists; run with --force to replace it (it is kept under {replaced_dir})"
            )
        tmp = db_path.with_name(f".{db_path.name}.restore.tmp")
        shutil.copyfile(backup.db_file, tmp)
        try:
            _fsync_file(tmp)
            expected = {name: TableSummary(**s) for name, s in backup.tables.items()}
            if summarize_file(tmp) != expected:
                raise BackupInvalid(f"the copy of {backup.db_file} does not match its manifest")
            replaced = None
            if db_path.exists() or wal.exists():
                replaced = move_aside(db_path, replaced_dir, now)
            os.replace(tmp, db_path)
            fsync_dir(db_path.parent)
        finally:
            tmp.unlink(missing_ok=True)
    return RestoreResult(database=db_path, replaced=replaced)


def move_aside(db_path: Path, replaced_dir: Path, now: datetime | None = None) -> Path:
    """Move a database and its WAL (they belong together) to `replaced_dir`; return its new path.

    The caller holds the writer lock.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    replaced_dir.mkdir(parents=True, exist_ok=True)
    target = replaced_dir / f"{db_path.stem}-{stamp}{db_path.suffix}"
    wal = db_path.with_name(db_path.name + ".wal")
    for src, dst in ((db_path, target), (wal, target.with_name(target.name + ".wal"))):
        if src.exists():
            shutil.move(src, dst)
    fsync_dir(replaced_dir)
    return target
