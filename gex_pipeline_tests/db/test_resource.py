"""`Tables`: the resource assets reach the live DuckDB file and the lake through."""

from __future__ import annotations

from pathlib import Path

from gex_pipeline.defs.resources import Tables, build_resources
from gex_pipeline.settings import Settings


def test_tables_resource_points_at_the_data_directory(data_dir: Path) -> None:
    resource = build_resources(Settings.from_env())["tables"]
    assert isinstance(resource, Tables)
    store = resource.store()
    assert store.db_path == data_dir / "gex_data.db"
    assert Path(store.lake.root) == (data_dir / "lake").resolve()
    assert store.work_dir == data_dir / "tmp"
    assert store.memory_limit == Settings.from_env().history.duckdb_memory_limit
