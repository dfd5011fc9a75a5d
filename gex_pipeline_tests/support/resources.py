"""The project's Dagster resources for a test data directory."""

from __future__ import annotations

from pathlib import Path

from gex_pipeline.defs.resources import Tables


def tables_for(data_dir: Path) -> Tables:
    """The `tables` resource of a data directory (`gex_data.db`, `lake/`, `tmp/`)."""
    return Tables(
        database=str(data_dir / "gex_data.db"),
        lake=str((data_dir / "lake").resolve()),
        work_dir=str(data_dir / "tmp"),
    )
