"""The checks that compare figures instead of scanning still find every change made behind the
pipeline: rows inserted or deleted in DuckDB, a Parquet file rewritten or altered in place (even
with its size and mtime kept), rows loaded after the export; and they do use the figures on a
clean exported partition."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import FeedDay, IntegrityResult, partition_checks
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.gex.parquet_manifest import manifest_path
from gex_pipeline.lib.gex.validate import validate
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline_tests.support.staging_trees import GexStagingTree

DAY = date(2025, 11, 14)
FEED_DAY = FeedDay(DAY, "SPX", "gex_zero")


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "gex.db") as connection:
        migrate(connection)
        made = make_day_file(tmp_path / "source", DAY, "SPX", "gex_zero", snapshots=600, strikes=5)
        import_day_file(
            connection, made.path, ticker="SPX", endpoint="gex_zero", trade_date=DAY,
            backups_dir=tmp_path / "backups",
        )  # fmt: skip
        yield connection


@pytest.fixture
def exported(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> Path:
    return export_partition(con, tmp_path / "parquet", "SPX", "gex_zero", DAY).path


def _check(con, tmp_path: Path, name: str) -> IntegrityResult:
    (result,) = partition_checks(con, FEED_DAY, tmp_path / "parquet", names=[name])
    return result


def test_a_clean_exported_partition_is_judged_from_figures(con, exported, tmp_path):
    result = _check(con, tmp_path, "parquet_reconciliation")
    assert result.passed
    assert result.details["duckdb_figures"] == "load-time"
    assert result.details["parquet_figures"] == "export manifest"
    assert _check(con, tmp_path, "duplicate_rows").passed


def test_a_strike_row_repeated_behind_the_pipeline_is_found_at_its_timestamp(con, tmp_path):
    (ts,) = con.execute(
        "INSERT INTO gex_strikes SELECT * FROM gex_strikes"
        " ORDER BY timestamp DESC, strike LIMIT 1 RETURNING timestamp"
    ).fetchone()
    result = _check(con, tmp_path, "duplicate_rows")
    assert not result.passed
    assert result.examples["duplicate_strike"] == (ts,)


def test_a_row_deleted_behind_the_pipeline_fails_reconciliation(con, exported, tmp_path):
    con.execute("DELETE FROM gex_strikes WHERE rowid = 7")
    result = _check(con, tmp_path, "parquet_reconciliation")
    assert not result.passed
    assert result.details["duckdb_figures"] == "scanned"
    assert result.counts["duckdb_rows"] == result.counts["parquet_rows"] - 1


def test_rows_loaded_after_the_export_fail_reconciliation(
    con, exported, tmp_path, gex_staging: GexStagingTree
):
    late = gex_staging.record(
        timestamp=int(con.execute("SELECT max(timestamp) + 1000 FROM gex_snapshots").fetchone()[0])
    )
    load_segments(con, [gex_staging.seal([late])])
    result = _check(con, tmp_path, "parquet_reconciliation")
    assert not result.passed
    assert result.details["duckdb_figures"] == "load-time"
    assert result.examples["differing_timestamp"] == (late["timestamp"],)


def test_parquet_rewritten_with_an_edited_value_fails_reconciliation(con, exported, tmp_path):
    frame = pl.read_parquet(exported)
    edited = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 100).then(pl.col("gamma") + 1).otherwise(pl.col("gamma"))
    )
    edited.write_parquet(exported)
    result = _check(con, tmp_path, "parquet_reconciliation")
    assert not result.passed
    assert result.details["parquet_figures"] == "scanned"
    assert result.examples["differing_timestamp"] == (frame["timestamp"][100],)


def test_parquet_altered_in_place_keeping_size_and_mtime_fails_reconciliation(
    con, exported, tmp_path
):
    before = exported.stat()
    data = bytearray(exported.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0xFF
    with open(exported, "r+b") as out:  # same inode, same size
        out.write(data)
    os.utime(exported, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (exported.stat().st_size, exported.stat().st_mtime_ns) == (
        before.st_size,
        before.st_mtime_ns,
    )
    result = _check(con, tmp_path, "parquet_reconciliation")
    assert not result.passed
    assert result.details["parquet_figures"] == "scanned"


def test_a_missing_manifest_means_the_file_is_read(con, exported, tmp_path):
    manifest_path(exported).unlink()
    result = _check(con, tmp_path, "parquet_reconciliation")
    assert result.passed
    assert result.details["parquet_figures"] == "scanned"


def test_validate_finds_a_strike_row_repeated_in_the_file_behind_the_export(exported, tmp_path):
    frame = pl.read_parquet(exported)
    pl.concat([frame, frame.slice(42, 1)]).write_parquet(exported)
    (report,) = validate(tmp_path / "parquet", DAY, DAY, ["SPX.gex_zero"])
    (duplicates,) = [r for r in report.results if r.name == "duplicate_rows"]
    assert not duplicates.passed
    assert duplicates.examples["duplicate_strike"] == (frame["timestamp"][42],)


def test_validate_of_an_untouched_export_passes_its_duplicate_check(exported, tmp_path):
    (report,) = validate(tmp_path / "parquet", DAY, DAY, ["SPX.gex_zero"])
    assert [r.passed for r in report.results if r.name == "duplicate_rows"] == [True]


def test_validate_finds_a_row_moved_to_another_date_in_the_file_behind_the_export(
    exported, tmp_path
):
    frame = pl.read_parquet(exported)
    moved = frame["timestamp"][42] + 86_400_000
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 42)
        .then(pl.col("timestamp") + 86_400_000)
        .otherwise(pl.col("timestamp"))
    ).write_parquet(exported)
    (report,) = validate(tmp_path / "parquet", DAY, DAY, ["SPX.gex_zero"])
    (wrong,) = [r for r in report.results if r.name == "trade_date_mismatch"]
    assert not wrong.passed
    assert wrong.examples["wrong_date"] == (moved,)


def test_an_update_behind_the_pipeline_that_keeps_the_row_count_needs_a_rescan(
    con, exported, tmp_path
):
    """The blind spot of the figures, and the way to cover it: `rescan` reads the rows."""
    (edited,) = con.execute(
        "UPDATE gex_strikes SET gamma = gamma + 1 WHERE rowid = 100 RETURNING timestamp"
    ).fetchone()
    con.execute(
        "UPDATE gex_strikes SET strike = (SELECT min(strike) FROM gex_strikes WHERE rowid < 5)"
        " WHERE rowid = 1"
    )
    (duplicate,) = con.execute("SELECT timestamp FROM gex_strikes WHERE rowid = 1").fetchone()
    names = ["duplicate_rows", "parquet_reconciliation"]
    fast = partition_checks(con, FEED_DAY, tmp_path / "parquet", names=names)
    assert [r.passed for r in fast] == [True, True]
    dup, recon = partition_checks(con, FEED_DAY, tmp_path / "parquet", names=names, rescan=True)
    assert dup.examples["duplicate_strike"] == (duplicate,)
    assert not recon.passed
    assert recon.details["parquet_figures"] == recon.details["duckdb_figures"] == "scanned"
    assert set(recon.examples["differing_timestamp"]) == {edited, duplicate}


def test_validate_locates_a_duplicate_the_export_manifest_records(con, tmp_path):
    (ts,) = con.execute(
        "INSERT INTO gex_strikes SELECT * FROM gex_strikes WHERE rowid = 9 RETURNING timestamp"
    ).fetchone()
    path = export_partition(con, tmp_path / "parquet", "SPX", "gex_zero", DAY).path
    assert json.loads(manifest_path(path).read_text())["key_duplicates"] == 1
    (report,) = validate(tmp_path / "parquet", DAY, DAY, ["SPX.gex_zero"])
    (duplicates,) = [r for r in report.results if r.name == "duplicate_rows"]
    assert duplicates.examples["duplicate_strike"] == (ts,)
