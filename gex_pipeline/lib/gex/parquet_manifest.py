"""What the export wrote: figures of a strikes Parquet file and the identity of the file itself.

Beside each `<YYYYMMDD>.strikes.parquet` the export writes `<YYYYMMDD>.strikes.manifest.json`
(tmp + fsync + rename, after the Parquet file is in place): the rows, their natural-key
duplicates, their content hash (the checksum of `parquet_reconciliation`) and their first and last
timestamp, computed from the rows written, and the file's identity once renamed into place (device, inode, size, mtime and
ctime in ns). `file_state` returns them only while the file still has that identity: any
write, replace, truncation or copy of the file changes its inode, size, mtime or ctime (ctime
cannot be set back from user space), so the checks then read the file itself. A missing,
unreadable or stale manifest means the same: read the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.partition_figures import ROW_HASH, StrikeFigures, StrikeState

if TYPE_CHECKING:
    import polars as pl

_VERSION = 2


def manifest_path(strikes_file: Path) -> Path:
    """Path of the manifest of a strikes Parquet file."""
    return strikes_file.with_name(strikes_file.name.replace(".parquet", ".manifest.json"))


def _identity(path: Path) -> dict[str, int]:
    st = os.stat(path)
    return {
        "dev": st.st_dev,
        "ino": st.st_ino,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
    }


def frame_state(frame: pl.DataFrame) -> StrikeState:
    """Figures and timestamp span of the strike rows in `frame` (the exported columns), computed
    as the checks compute them."""
    import duckdb

    with duckdb.connect() as mem:
        mem.register("exported", frame)
        row = mem.execute(
            f"SELECT count(*), count(*) - count(DISTINCT (timestamp, strike)),"
            f" coalesce(sum({ROW_HASH}), 0)::HUGEINT, min(timestamp), max(timestamp)"
            " FROM exported"
        ).fetchone()
    assert row is not None
    return StrikeState(StrikeFigures(int(row[0]), int(row[1]), int(row[2])), row[3], row[4])


def write_manifest(strikes_file: Path, state: StrikeState) -> None:
    """Record `state` and the current identity of `strikes_file` beside it, atomically."""
    assert state.figures is not None
    target = manifest_path(strikes_file)
    body = {
        "version": _VERSION,
        "rows": state.figures.rows,
        "key_duplicates": state.figures.key_duplicates,
        "content_hash": str(state.figures.content_hash),
        "first_timestamp": state.first_timestamp,
        "last_timestamp": state.last_timestamp,
        "file": _identity(strikes_file),
    }
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(body, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def file_state(strikes_file: Path) -> StrikeState | None:
    """The recorded figures and timestamp span of `strikes_file` if it is still the file the
    export wrote, else None."""
    try:
        body = json.loads(manifest_path(strikes_file).read_text(encoding="utf-8"))
        if body.get("version") != _VERSION or body["file"] != _identity(strikes_file):
            return None
        figures = StrikeFigures(
            int(body["rows"]), int(body["key_duplicates"]), int(body["content_hash"])
        )
        return StrikeState(figures, body["first_timestamp"], body["last_timestamp"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
