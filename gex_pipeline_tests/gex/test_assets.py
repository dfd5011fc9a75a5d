"""The live batch and Parquet export assets, materialized against a temp DuckDB and a persistent
test instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from gex_pipeline.defs.gex.assets import (
    GEX_PARQUET,
    GEX_SNAPSHOTS,
    GEX_STRIKES,
    gex_live_batch,
    gex_parquet,
)
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import DuckDBDatabase, ParquetStore, StagingArea
from gex_pipeline.lib.db.connection import connect
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

SPX_KEY = "2025-11-14|SPX.gex_zero"
NQ_KEY = "2025-11-14|NQ_NDX.gex_one"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


@pytest.fixture
def resources(data_dir: Path) -> dict[str, dg.ConfigurableResource]:
    return {
        "duckdb_database": DuckDBDatabase(database=str(data_dir / "gex_data.db")),
        "staging": StagingArea(root=str(data_dir / "staging"), retention_days=7),
        "parquet": ParquetStore(
            root=str(data_dir / "parquet" / "gexbot"), views_file=str(data_dir / "views.duckdb")
        ),
    }


def _load(instance, resources, upper_seq: int) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [gex_live_batch, gex_tables],
        selection=[gex_live_batch],
        resources=resources,
        instance=instance,
        run_config={"ops": {"gex_live_batch": {"config": {"upper_seq": upper_seq}}}},
        raise_on_error=False,
    )


def _count(data_dir: Path, table: str) -> int:
    with connect(data_dir / "gex_data.db", read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_live_batch_reports_each_affected_partition(
    instance, resources, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record("SPX"), gex_staging.record("NQ_NDX", "gex_one")])
    result = _load(instance, resources, segment.seq)
    assert result.success
    reported = sorted(
        (e.asset_key.to_user_string(), e.partition)
        for e in result.get_asset_materialization_events()
        if e.partition
    )
    assert reported == [
        ("gex_snapshots", NQ_KEY),
        ("gex_snapshots", SPX_KEY),
        ("gex_strikes", NQ_KEY),
        ("gex_strikes", SPX_KEY),
    ]


def test_partition_materialization_carries_counts_and_preview(
    instance, resources, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record(), gex_staging.record()])
    _load(instance, resources, segment.seq)
    event = instance.get_latest_materialization_event(GEX_STRIKES)
    metadata = event.asset_materialization.metadata
    assert event.asset_materialization.partition == SPX_KEY
    assert metadata["dagster/row_count"].value == 3
    assert metadata["duplicates_skipped"].value == 1
    assert metadata["first_timestamp"].value == GEX_BASE_MS / 1000
    assert "| timestamp | spot |" in metadata["preview"].value


def test_live_batch_registers_new_feeds_as_partitions(
    instance, resources, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record("ES_SPX", "gex_full")])
    _load(instance, resources, segment.seq)
    assert instance.get_dynamic_partitions("feed") == ["ES_SPX.gex_full"]


def test_segments_move_to_processed_after_the_load(
    instance, resources, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    loaded = gex_staging.seal([gex_staging.record()])
    later = gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    _load(instance, resources, loaded.seq)
    assert [p.name for p in gex_staging.dirs.processed.iterdir()] == [loaded.name]
    assert [p.name for p in gex_staging.dirs.sealed.iterdir()] == [later.name]
    assert _count(data_dir, "gex_snapshots") == 1


def test_rerunning_a_batch_changes_nothing(
    instance, resources, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record()])
    _load(instance, resources, segment.seq)
    again = _load(instance, resources, segment.seq)
    assert again.success
    assert (_count(data_dir, "gex_snapshots"), _count(data_dir, "gex_strikes")) == (1, 3)


def test_run_failing_after_commit_is_retried_to_the_same_tables(
    instance, resources, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record(), gex_staging.record("NQ_NDX")])
    gex_staging.dirs.processed.rmdir()
    gex_staging.dirs.processed.write_text("not a directory")  # the move after commit fails
    failed = _load(instance, resources, segment.seq)
    assert not failed.success
    assert segment.path.exists()
    gex_staging.dirs.processed.unlink()
    retried = _load(instance, resources, segment.seq)
    assert retried.success
    assert (_count(data_dir, "gex_snapshots"), _count(data_dir, "gex_strikes")) == (2, 6)
    assert (gex_staging.dirs.processed / segment.name).exists()
    partitions = {e.partition for e in retried.get_asset_materialization_events() if e.partition}
    assert partitions == {SPX_KEY, "2025-11-14|NQ_NDX.gex_zero"}


def test_conflicts_are_reported_on_the_batch(
    instance, resources, gex_staging: GexStagingTree
) -> None:
    first = gex_staging.seal([gex_staging.record(spot=1.0)])
    _load(instance, resources, first.seq)
    second = gex_staging.seal([gex_staging.record(spot=2.0)])
    result = _load(instance, resources, second.seq)
    batch = next(e for e in result.get_asset_materialization_events() if not e.partition)
    assert batch.materialization.metadata["conflicts"].value == 1
    snapshot_event = instance.get_latest_materialization_event(GEX_SNAPSHOTS)
    assert snapshot_event.asset_materialization.metadata["conflicts"].value == 1


def test_parquet_asset_exports_the_partition_duckdb_holds(
    instance, resources, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    segment = gex_staging.seal([gex_staging.record(), gex_staging.record("NQ_NDX")])
    _load(instance, resources, segment.seq)
    result = dg.materialize(
        [gex_parquet], resources=resources, instance=instance, partition_key=SPX_KEY
    )
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == GEX_PARQUET]
    metadata = event.materialization.metadata
    path = Path(metadata["path"].value)
    assert path == data_dir / "parquet/gexbot/SPX/gex_zero/20251114.strikes.parquet"
    assert pl.read_parquet(path).height == metadata["dagster/row_count"].value == 3
    assert (data_dir / "views.duckdb").exists()


def test_unloadable_segment_is_set_aside_and_fails_the_check(
    instance, resources, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    good = gex_staging.seal([gex_staging.record()])
    bad = gex_staging.seal([gex_staging.record("NQ_NDX", strikes={"not": "rows"})])
    result = _load(instance, resources, bad.seq)
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    rejected = gex_staging.dirs.root / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [bad.name, f"{bad.name}.error.txt"]
    assert "'strikes'" in (rejected / f"{bad.name}.error.txt").read_text()
    assert [p.name for p in gex_staging.dirs.processed.iterdir()] == [good.name]
    assert _count(data_dir, "gex_snapshots") == 1
