"""Parquet export of one date x feed partition: layout, order, equality with DuckDB, atomicity."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.parquet_export import (
    SNAPSHOT_EXPORT_COLUMNS,
    export_partition,
    parquet_path,
    partition_query,
    snapshots_path,
)
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)


@pytest.fixture
def loaded_db(tmp_path: Path, gex_staging: GexStagingTree) -> Path:
    """A DuckDB file with two SPX snapshots (inserted newest first) and one NQ_NDX snapshot."""
    path = tmp_path / "gex.db"
    late = gex_staging.record(
        timestamp=GEX_BASE_MS + 1000, strikes=[[6740.0, 1.0, 2.0, None], [6700.0, 3.0, 4.0, None]]
    )
    early = gex_staging.record(timestamp=GEX_BASE_MS)
    other = gex_staging.record("NQ_NDX")
    segments = [gex_staging.seal([late]), gex_staging.seal([early, other])]
    with connect(path) as con:
        migrate(con)
        load_segments(con, segments)
    return path


def test_export_writes_the_documented_path_and_columns(loaded_db: Path, tmp_path: Path) -> None:
    root = tmp_path / "parquet"
    with connect(loaded_db) as con:
        result = export_partition(con, root, "SPX", "gex_zero", DAY)
    assert result.path == root / "SPX" / "gex_zero" / "20251114.strikes.parquet"
    schema = pl.read_parquet_schema(result.path)
    assert schema["timestamp"] == pl.Int64
    assert schema["priors"] == pl.List(pl.Float64)
    assert list(schema) == [
        "timestamp",
        "ticker",
        "endpoint",
        "strike",
        "gamma",
        "oi_gamma",
        "priors",
    ]


def test_exported_rows_equal_duckdb_rows_sorted_by_timestamp_then_strike(
    loaded_db: Path, tmp_path: Path
) -> None:
    with connect(loaded_db) as con:
        result = export_partition(con, tmp_path / "parquet", "SPX", "gex_zero", DAY)
        expected = partition_query(con, "SPX", "gex_zero", DAY).pl()
    exported = pl.read_parquet(result.path)
    assert result.rows == expected.height == 5
    assert exported.equals(expected)
    assert exported.select("timestamp", "strike").equals(
        exported.select("timestamp", "strike").sort("timestamp", "strike")
    )


def test_export_uses_zstd(loaded_db: Path, tmp_path: Path) -> None:
    with connect(loaded_db) as con:
        result = export_partition(con, tmp_path / "parquet", "SPX", "gex_zero", DAY)
    codecs = duckdb.sql(
        f"SELECT DISTINCT compression FROM parquet_metadata('{result.path}')"
    ).fetchall()
    assert codecs == [("ZSTD",)]


def test_export_of_empty_partition_is_refused_and_keeps_the_existing_file(
    loaded_db: Path, tmp_path: Path
) -> None:
    root = tmp_path / "parquet"
    target = parquet_path(root, "SPX", "gex_zero", date(2025, 11, 13))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"previous")
    with connect(loaded_db) as con, pytest.raises(ValueError, match="trade_date=2025-11-13"):
        export_partition(con, root, "SPX", "gex_zero", date(2025, 11, 13))
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_export_writes_the_snapshots_beside_the_strikes(loaded_db: Path, tmp_path: Path) -> None:
    root = tmp_path / "parquet"
    with connect(loaded_db) as con:
        export_partition(con, root, "SPX", "gex_zero", DAY)
        stored = con.execute(
            "SELECT count(*) FROM gex_snapshots WHERE ticker = ? AND trade_date = ?", ["SPX", DAY]
        ).fetchall()[0][0]
    frame = pl.read_parquet(snapshots_path(root, "SPX", "gex_zero", DAY))
    assert frame.height == stored
    assert frame.columns == list(SNAPSHOT_EXPORT_COLUMNS)


def test_re_export_replaces_the_file_without_leaving_temp_files(
    loaded_db: Path, tmp_path: Path
) -> None:
    root = tmp_path / "parquet"
    with connect(loaded_db) as con:
        first = export_partition(con, root, "SPX", "gex_zero", DAY)
        con.execute("DELETE FROM gex_strikes WHERE strike = 6740.0")
        second = export_partition(con, root, "SPX", "gex_zero", DAY)
    assert (first.rows, second.rows) == (5, 3)
    assert pl.read_parquet(second.path).height == 3
    assert sorted(p.name for p in second.path.parent.iterdir()) == [
        "20251114.snapshots.parquet",
        "20251114.strikes.manifest.json",
        second.path.name,
    ]
