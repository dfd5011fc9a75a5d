"""A small read-only DuckDB file of views over the exported Parquet files, for notebooks.

`gex_data.db` admits one read-write process and no readers while it is held, so notebooks query
`gex_views.duckdb` (opened `read_only=True`) whose views read the Parquet files. The file is created
once, atomically (built under a temp name, then renamed); it never needs rewriting because the
views resolve the glob at query time and see newly exported files.
"""

from __future__ import annotations

import os
from pathlib import Path

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.writer import lock_path

STRIKES_VIEW = "gex_strikes"


def strikes_glob(parquet_root: Path) -> str:
    """Glob of every exported strike file under `parquet_root`."""
    return str(parquet_root.resolve() / "*" / "*" / "*.strikes.parquet")


def ensure_reader_views(views_path: Path, parquet_root: Path) -> bool:
    """Create `views_path` with the `gex_strikes` view when missing; return True when created.

    Call it after at least one file was exported (DuckDB checks the glob when the view is made).
    """
    if views_path.exists():
        return False
    views_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = views_path.with_name(f".{views_path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    glob = strikes_glob(parquet_root).replace("'", "''")
    try:
        with connect(tmp) as con:
            con.execute(
                f"CREATE VIEW {STRIKES_VIEW} AS SELECT * FROM read_parquet('{glob}', union_by_name = true)"
            )
            con.execute("CHECKPOINT")
        os.replace(tmp, views_path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        lock_path(tmp).unlink(missing_ok=True)
    return True
