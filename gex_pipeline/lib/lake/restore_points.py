"""Restore points: incremental, verifiable backups of the lake and the live DuckDB file.

A restore point is a directory `<backups>/db/<UTC stamp>/` with `manifest.json` and `live.db`:
- the version of every lake table at that moment, and the data files and log files that version
  needs, copied into a mirror shared by all points (`<backups>/lake/<table>/...`). Delta files are
  immutable and uniquely named, so a point copies only the files no earlier point copied: about
  the bytes that changed since (the day's new partitions), never the whole store. Each file's
  size and sha256 are recorded as it is copied;
- `live.db`: the load bookkeeping of `gex_data.db` (which staging segments are loaded, which
  partitions are sealed). The open partitions' rows are in the lake already: the point first
  mirrors what the live loader committed since its last pass.
Only that first step holds the writer lock of `gex_data.db` (the bookkeeping is small; the lake
files are copied afterwards, without any lock), and memory stays bounded (files are streamed).

`verify` checks that every file of a point is present with its recorded size and re-hashes the
files the point added (`full=True`: every file). A point can restore one feed-day (`restore_
partition`) or the whole store (`restore_store`), each keeping a way back: the lake's own
versions, and the replaced `gex_data.db` kept aside.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gex_pipeline.lib.lake.tables import SPECS, Lake, Partition, TableCache
from gex_pipeline.lib.staging.durable_fs import fsync_dir

FORMAT = "lake-restore-point/1"
DEFAULT_MEMORY_LIMIT = "1GB"
MANIFEST_FILE = "manifest.json"
LIVE_FILE = "live.db"
MIRROR_DIR = "lake"
POINTS_DIR = "db"
REPLACED_DIR = "replaced"
LOG_DIR = "_delta_log"
RESTORE_WRITER = "restore"
# What `live.db` keeps of gex_data.db: the bookkeeping (the open rows are mirrored to the lake).
BOOKKEEPING_TABLES: tuple[str, ...] = (
    "loaded_segments",
    "loaded_partitions",
    "loaded_webhook_days",
    "sealed_partitions",
)
_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
_CHUNK = 1 << 20


class BackupInvalid(Exception):
    """A restore point is incomplete or does not match its manifest; says what differs."""


class RestoreRefused(Exception):
    """A restore that would overwrite data without `force`."""


@dataclass(frozen=True)
class RestorePoint:
    """One restore point directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def versions(self) -> dict[str, int]:
        """The lake table versions of the point."""
        return {name: int(t["version"]) for name, t in self.manifest["lake"].items()}

    @property
    def bytes_added(self) -> int:
        """Bytes this point copied (what changed since the previous point)."""
        return int(self.manifest["bytes_added"])

    @property
    def stamp(self) -> str:
        """The point's UTC stamp (its directory name)."""
        return self.path.name


@dataclass(frozen=True)
class BackupRoots:
    """Where restore points and the shared file mirror live (`$GEX_DATA_DIR/backups`)."""

    root: Path

    @property
    def points(self) -> Path:
        return self.root / POINTS_DIR

    @property
    def mirror(self) -> Path:
        return self.root / MIRROR_DIR

    def table_mirror(self, name: str) -> Path:
        return self.mirror / name


def _sha256_copy(src: Path, dst: Path) -> tuple[int, str]:
    """Copy `src` to `dst` (via a temp name, fsynced) and return (bytes, sha256) of what was read."""
    digest = hashlib.sha256()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    size = 0
    with src.open("rb") as fin, tmp.open("wb") as fout:
        for chunk in iter(lambda: fin.read(_CHUNK), b""):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    return size, digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _local_root(lake: Lake) -> Path:
    if "://" in lake.root and not lake.root.startswith("file://"):
        raise ValueError(f"restore points copy local lake files; {lake.root} is not local")
    return Path(lake.root.removeprefix("file://"))


def _log_files(table_dir: Path, version: int) -> list[str]:
    """The log files version `version` needs: the newest checkpoint at or below it, the commits
    after it up to `version` (relative paths)."""
    log = table_dir / LOG_DIR
    checkpoints = sorted(
        int(p.name.split(".")[0])
        for p in log.glob("*.checkpoint*.parquet")
        if int(p.name.split(".")[0]) <= version
    )
    start = checkpoints[-1] if checkpoints else 0
    names = [
        p.name
        for p in log.iterdir()
        if p.name[:20].isdigit()
        and start <= int(p.name[:20]) <= version
        and (p.suffix == ".json" or ".checkpoint" in p.name)
    ]
    return sorted(f"{LOG_DIR}/{n}" for n in names)


def _previous_files(points: Path) -> dict[str, dict[str, list[Any]]]:
    """Files (size, sha256) recorded by the newest point, per table: what is already copied."""
    found = list_points(points)
    if not found:
        return {}
    manifest = load_point(found[-1]).manifest
    return {name: t["files"] for name, t in manifest["lake"].items()}


def _mirror_since(status_path: Path | None) -> datetime | None:
    """When the live loader's last mirror pass started (from its status file), if known."""
    if status_path is None or not status_path.is_file():
        return None
    try:
        started = json.loads(status_path.read_text()).get("lake_mirrored_since")
    except (OSError, json.JSONDecodeError):
        return None
    return datetime.fromisoformat(started) if started else None


def take_point(
    db_path: Path,
    lake: Lake,
    backups: BackupRoots,
    *,
    now: datetime | None = None,
    status_path: Path | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> RestorePoint:
    """Take a restore point (see the module docstring); returns it once published. DuckDB's
    work (the mirror of open partitions, the bookkeeping copy) stays within `memory_limit`."""
    from gex_pipeline.lib.db.connection import connect
    from gex_pipeline.lib.lake.mirror import mirror
    from gex_pipeline.lib.lake.remote import require_local

    require_local(lake, "a restore point")
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    final = backups.points / stamp
    if final.exists():
        raise FileExistsError(f"a restore point {final} already exists")
    work = backups.points / f".{stamp}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        with connect(db_path) as con:  # the writer lock: loads wait for these seconds only
            from gex_pipeline.lib.db.schema import migrate

            locked = time.monotonic()
            con.execute(f"SET memory_limit = '{memory_limit}'")
            migrate(con)
            since = _mirror_since(status_path)
            tables = TableCache(lake)
            mirror(con, lake, since=since - timedelta(minutes=1) if since else None, cache=tables)
            versions = {n: t.version() for n in SPECS if (t := tables.get(n)) is not None}
            con.execute("CHECKPOINT")
            live = _copy_live_bookkeeping_locked(con, work / LIVE_FILE)
            held = time.monotonic() - locked
        manifest = _copy_lake(lake, backups, versions)
        live_file = work / LIVE_FILE
        manifest.update(
            {
                "format": FORMAT,
                "created_at": now.isoformat(),
                "writer_held_seconds": round(held, 3),
                "live": {
                    **live,
                    "file": LIVE_FILE,
                    "bytes": live_file.stat().st_size,
                    "sha256": sha256_file(live_file),
                },
            }
        )
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for name in (LIVE_FILE, MANIFEST_FILE):
            _fsync(work / name)
        fsync_dir(work)
        os.rename(work, final)
        fsync_dir(backups.points)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return RestorePoint(final, manifest)


def _copy_live_bookkeeping_locked(con: Any, target: Path) -> dict[str, Any]:
    """Copy the bookkeeping tables of `gex_data.db` (the caller's connection, writer lock held)
    into a new DuckDB file; return their row counts and the schema version."""
    import duckdb

    from gex_pipeline.lib.db.schema import current_version, migrate

    with duckdb.connect(str(target)) as out:
        migrate(out)
    con.execute(f"ATTACH '{str(target).replace(chr(39), chr(39) * 2)}' AS point")
    try:
        counts = {}
        for name in BOOKKEEPING_TABLES:
            con.execute(f"INSERT INTO point.{name} SELECT * FROM main.{name}")
            counts[name] = int(con.execute(f"SELECT count(*) FROM point.{name}").fetchall()[0][0])
        con.execute("CHECKPOINT point")
    finally:
        con.execute("DETACH point")
    return {"schema_version": current_version(con), "rows": counts}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_lake(lake: Lake, backups: BackupRoots, versions: dict[str, int]) -> dict[str, Any]:
    """Copy the files each table's version needs that the mirror lacks; the manifest's `lake`."""
    root = _local_root(lake)
    previous = _previous_files(backups.points)
    tables: dict[str, Any] = {}
    added_bytes = 0
    for name, version in sorted(versions.items()):
        table = lake.open(name, version)
        assert table is not None
        table_dir, mirror_dir = root / name, backups.table_mirror(name)
        known = previous.get(name, {})
        files: dict[str, list[Any]] = {}
        added: list[str] = []
        data = [str(p) for p in _relative_paths(table)]
        for rel in [*data, *_log_files(table_dir, version)]:
            target = mirror_dir / rel
            if rel in known and target.is_file() and target.stat().st_size == known[rel][0]:
                files[rel] = known[rel]
                continue
            size, digest = _sha256_copy(table_dir / rel, target)
            files[rel] = [size, digest]
            added.append(rel)
            added_bytes += size
        tables[name] = {"version": version, "files": files, "added": sorted(added)}
    return {"lake": tables, "bytes_added": added_bytes}


def _relative_paths(table: Any) -> list[str]:
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True))
    return [str(p) for p in actions.column("path").to_pylist()]


def load_point(path: Path) -> RestorePoint:
    """Read a restore point's manifest; BackupInvalid when it is not a complete point."""
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir() or not manifest_path.is_file():
        raise BackupInvalid(f"{path} is not a restore point (no {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise BackupInvalid(f"{manifest_path}: unreadable manifest: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupInvalid(f"{manifest_path}: unknown format {manifest.get('format')!r}")
    if not (path / LIVE_FILE).is_file():
        raise BackupInvalid(f"{path}: {LIVE_FILE} is missing")
    return RestorePoint(path, manifest)


def verify_point(path: Path, *, full: bool = False) -> RestorePoint:
    """Check a restore point against its manifest: every file present with its size, the files
    it added (every file with `full`) and `live.db` re-hashed. Raises BackupInvalid."""
    point = load_point(path)
    backups = BackupRoots(path.parent.parent)
    live = point.manifest["live"]
    if sha256_file(path / LIVE_FILE) != live["sha256"]:
        raise BackupInvalid(f"{path / LIVE_FILE}: sha256 differs from the manifest (damaged)")
    for name, table in sorted(point.manifest["lake"].items()):
        added = set(table["added"])
        for rel, (size, digest) in sorted(table["files"].items()):
            target = backups.table_mirror(name) / rel
            if not target.is_file():
                raise BackupInvalid(f"{name}: {rel} is missing from {backups.mirror}")
            if target.stat().st_size != size:
                raise BackupInvalid(f"{name}: {rel} has {target.stat().st_size} bytes, not {size}")
            if (full or rel in added) and sha256_file(target) != digest:
                raise BackupInvalid(f"{name}: {rel}: sha256 differs from the manifest (damaged)")
    return point


def list_points(points: Path) -> list[Path]:
    """Published restore points under `points`, oldest first."""
    if not points.is_dir():
        return []
    return sorted(
        p
        for p in points.iterdir()
        if p.is_dir() and _STAMP.match(p.name) and (p / MANIFEST_FILE).is_file()
    )


def prune_points(backups: BackupRoots, keep: int) -> list[Path]:
    """Delete all but the newest `keep` points (`keep` <= 0 keeps all) and the mirror files no
    kept point needs; return the deleted points."""
    found = list_points(backups.points)
    doomed = found[:-keep] if keep > 0 else []
    for path in doomed:
        shutil.rmtree(path)
    kept = [load_point(p) for p in list_points(backups.points)]
    needed = {(n, rel) for p in kept for n, t in p.manifest["lake"].items() for rel in t["files"]}
    if backups.mirror.is_dir():
        for table_dir in backups.mirror.iterdir():
            for file in table_dir.rglob("*"):
                rel = file.relative_to(table_dir).as_posix()
                if file.is_file() and (table_dir.name, rel) not in needed:
                    file.unlink()
    return doomed


def mirror_table_at(backups: BackupRoots, name: str, version: int) -> Any:
    """The backed-up copy of table `name` at `version` (a DeltaTable read from the mirror)."""
    from deltalake import DeltaTable

    return DeltaTable(str(backups.table_mirror(name)), version=version)


def restore_partition(
    point: RestorePoint,
    lake: Lake,
    partition: Partition,
    tables: Iterable[str] | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> dict[str, int]:
    """Make `partition` of each table what it was at the point (one commit per table; the
    replaced rows stay reachable in the lake's history), DuckDB within `memory_limit`. Returns
    the rows restored per table. The caller claims the partition first."""
    import duckdb

    from gex_pipeline.lib.lake.reads import register
    from gex_pipeline.lib.lake.writes import lake_rows, replace

    backups = BackupRoots(point.path.parent.parent)
    wanted = [
        n
        for n in (tables or point.versions)
        if n in point.versions and SPECS[n].by_feed == (partition.feed is not None)
    ]
    restored: dict[str, int] = {}
    for name in sorted(wanted, key=_write_order):
        old = mirror_table_at(backups, name, point.versions[name])
        part = partition.for_table(SPECS[name])
        with duckdb.connect() as con:
            con.execute(f"SET memory_limit = '{memory_limit}'")
            register(con, name, old, name, [part], with_feed=False)
            restored[name] = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
            replace(
                lake,
                name,
                part,
                lake_rows(con, name, f"SELECT * FROM {name}"),
                writer=RESTORE_WRITER,
            )
    return restored


def _write_order(name: str) -> int:
    from gex_pipeline.lib.lake.tables import LIVE_TABLES

    order = (*LIVE_TABLES, *SPECS)
    return order.index(name)


def move_aside(db_path: Path, replaced_dir: Path, now: datetime | None = None) -> Path:
    """Move a DuckDB file and its WAL (they belong together) to `replaced_dir`; return its new
    path. The caller holds the writer lock."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    replaced_dir.mkdir(parents=True, exist_ok=True)
    target = replaced_dir / f"{db_path.stem}-{stamp}{db_path.suffix}"
    wal = db_path.with_name(db_path.name + ".wal")
    for src, dst in ((db_path, target), (wal, target.with_name(target.name + ".wal"))):
        if src.exists():
            shutil.move(src, dst)
    fsync_dir(replaced_dir)
    return target


def restore_store(
    point: RestorePoint, lake: Lake, db_path: Path, *, force: bool = False
) -> Path | None:
    """Make the whole store what it was at the point: every lake table back to its version
    (missing files copied back from the mirror; the restore is a new version, so the state it
    replaced stays reachable), and `gex_data.db` replaced by the point's bookkeeping (the
    replaced file is kept under `<backups>/db/replaced/`). Returns where the old file went.
    Refuses without `force` when `gex_data.db` exists."""
    from deltalake import DeltaTable

    from gex_pipeline.lib.db.writer import writer_lock
    from gex_pipeline.lib.lake.remote import require_local

    require_local(lake, "restoring the whole store")
    verify_point(point.path)
    backups = BackupRoots(point.path.parent.parent)
    root = _local_root(lake)
    with writer_lock(db_path):
        if db_path.exists() and not force:
            raise RestoreRefused(
                f"{db_path} exists; run with --force to replace it (it is kept under "
                f"{backups.points / REPLACED_DIR})"
            )
        for name, version in sorted(point.versions.items(), key=lambda kv: _write_order(kv[0])):
            table_dir = root / name
            files = point.manifest["lake"][name]["files"]
            for rel in files:
                target = table_dir / rel
                if rel.startswith(LOG_DIR) and table_dir.joinpath(LOG_DIR).is_dir():
                    if not target.exists():
                        _sha256_copy(backups.table_mirror(name) / rel, target)
                    continue
                if not target.is_file() or target.stat().st_size != files[rel][0]:
                    _sha256_copy(backups.table_mirror(name) / rel, target)
            table = DeltaTable(str(table_dir))
            if table.version() != version:
                from deltalake import CommitProperties

                table.restore(
                    version,
                    commit_properties=CommitProperties(
                        custom_metadata={"gex.writer": RESTORE_WRITER}
                    ),
                )
        replaced = None
        if db_path.exists():
            replaced = move_aside(db_path, backups.points / REPLACED_DIR)
        tmp = db_path.with_name(f".{db_path.name}.restore.tmp")
        shutil.copyfile(point.path / LIVE_FILE, tmp)
        os.replace(tmp, db_path)
        fsync_dir(db_path.parent)
    return replaced
