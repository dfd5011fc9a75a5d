"""The lake on S3-compatible object storage, shared by several hosts (`GEX_LAKE_URI=s3://...`).

Delta Lake keeps a table's log beside its files, so a shared lake needs no catalog database:
every commit is a new log object written with a conditional put (`If-None-Match`), which the
store grants to one writer only; the others re-read the log, check for conflicts and retry
(`lib/lake/merge.py`). The object store client takes the endpoint, region and credentials given
here, else the standard `AWS_*` variables of the environment.

What stays local on each host: staging, `gex_data.db`, the Parquet exports, the raw day files and
the restore points (they copy local lake files; `gex-pipeline backup` refuses a shared lake, whose
history is the object store's own versions: see docs/deployment.md).
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from gex_pipeline.lib.lake.tables import Lake, lake_at

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from gex_pipeline.settings import LakeSettings, PathSettings, Settings

# Concurrent writers need conditional puts; S3 (since 2024), MinIO and moto honour `If-None-Match`.
CONDITIONAL_PUT = {"conditional_put": "etag"}


class SharedLakeUnsupported(RuntimeError):
    """An operation that needs a local lake was asked of a shared one."""


def storage_options(lake: LakeSettings) -> dict[str, str]:
    """The object store options of a shared lake (empty for a local one)."""
    if not lake.object_store:
        return {}
    options = dict(CONDITIONAL_PUT)
    given = {
        "AWS_ENDPOINT_URL": lake.s3_endpoint,
        "AWS_REGION": lake.s3_region,
        "AWS_ACCESS_KEY_ID": lake.s3_access_key_id,
        "AWS_SECRET_ACCESS_KEY": lake.s3_secret_access_key,
    }
    options.update({k: v for k, v in given.items() if v})
    if lake.s3_allow_http:
        options["AWS_ALLOW_HTTP"] = "true"
    return options


def lake_of(paths: PathSettings, lake: LakeSettings) -> Lake:
    """The deployment's lake: `$GEX_DATA_DIR/lake`, this host its only writer, unless
    `GEX_LAKE_URI` names a lake several hosts share (on object storage, or a directory they all
    mount), which names this host (`GEX_LAKE_HOST`, else the machine's host name): `Lake.shared`."""
    if lake.uri is None:
        return lake_at(paths)
    host = lake.host or socket.gethostname()
    if not lake.object_store:
        return Lake(lake.uri, host=host)
    return Lake(lake.uri.rstrip("/"), storage_options(lake), host=host)


def settings_lake(settings: Settings) -> Lake:
    """`lake_of` for a whole `Settings`."""
    return lake_of(settings.paths, settings.lake)


def on_object_storage(lake: Lake) -> bool:
    """Whether the lake is on object storage."""
    return lake.local_path("") is None


def require_local(lake: Lake, what: str) -> None:
    """Refuse `what` on a lake on object storage, saying what to use instead."""
    if on_object_storage(lake):
        raise SharedLakeUnsupported(
            f"{what} copies local lake files; the lake is {lake.root} (object storage). Use the"
            " object store's versioning or replication for it, and `gex-pipeline restore` (the"
            " lake's own history) for a feed-day (docs/deployment.md)"
        )


# A remote file is copied in reads of this size, each one request (a day's strike file in one or two).
_COPY_CHUNK = 64 * 1024**2


def copy_file(
    table: DeltaTable,
    path: str,
    target: BinaryIO,
    *,
    options: dict[str, str] | None = None,
    size: int | None = None,
    copies: LocalCopies | None = None,
) -> None:
    """Copy the data file `path` of `table` (relative to it, as its log lists it) into `target`;
    on object storage (`options`: the lake's; `size`: the file's, from the log) in reads of
    `_COPY_CHUNK` bytes, a request apiece, or from `copies` (fetched there once)."""
    local = Lake(table.table_uri).local_path("")
    found = local / path if local is not None else None
    if found is None and copies is not None:
        found = copies.path(table, path, size)
    if found is not None:
        with found.open("rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
        return
    from deltalake.fs import DeltaStorageHandler

    known = {path: size} if size is not None else None
    with DeltaStorageHandler(table.table_uri, options, known).open_input_file(path) as source:
        shutil.copyfileobj(source, target, _COPY_CHUNK)


@dataclass
class LocalCopies:
    """Local copies of a remote lake's data files under `directory` (a reader's scratch
    directory, deleted with it), each fetched once: a reader's queries and the export then read
    local files (DuckDB's own Parquet reader) instead of ranged requests per query."""

    directory: Path
    options: dict[str, str] | None
    fetched: dict[str, Path] = field(default_factory=dict)

    def path(self, table: DeltaTable, path: str, size: int | None = None) -> Path:
        """The local copy of data file `path` of `table` (fetched now when it has none; a data
        file never changes, so one copy serves every version that lists it)."""
        uri = table.table_uri.rstrip("/")
        copy = self.fetched.get(f"{uri}/{path}")
        if copy is None:
            copy = self.directory / uri.rsplit("/", 1)[-1] / path
            copy.parent.mkdir(parents=True, exist_ok=True)
            with copy.open("wb") as target:
                copy_file(table, path, target, options=self.options, size=size)
            self.fetched[f"{uri}/{path}"] = copy
        return copy
