"""The Parquet export asset, materialized against a temp DuckDB and a persistent test instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from gex_pipeline.defs.gex.keys import GEX_PARQUET
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import ParquetStore, StagingArea
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.staging.layout import seq_of
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline_tests.support.dagster_events import run_materializations
from gex_pipeline_tests.support.resources import tables_for
from gex_pipeline_tests.support.staging_trees import GexStagingTree

SPX_KEY = "2025-11-14|SPX.gex_zero"
NQ_KEY = "2025-11-14|NQ_NDX.gex_one"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


@pytest.fixture
def resources(data_dir: Path) -> dict[str, dg.ConfigurableResource]:
    return {
        "tables": tables_for(data_dir),
        "staging": StagingArea(root=str(data_dir / "staging"), retention_days=7),
        "parquet": ParquetStore(
            root=str(data_dir / "parquet" / "gexbot"), views_file=str(data_dir / "views.duckdb")
        ),
    }


def _load(data_dir: Path, gex_staging: GexStagingTree) -> None:
    segments = gex_staging.dirs.sealed
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        load_segments(con, [Segment(seq_of(p.name), p) for p in sorted(segments.iterdir())])


def test_parquet_asset_exports_the_partition_duckdb_holds(
    instance, resources, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record(), gex_staging.record("NQ_NDX")])
    _load(data_dir, gex_staging)
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero"])
    result = dg.materialize(
        [gex_tables],
        selection=dg.AssetSelection.assets(GEX_PARQUET).without_checks(),
        resources=resources,
        instance=instance,
        partition_key=SPX_KEY,
    )
    [event] = [
        e for e in run_materializations(instance, result.run_id) if e.asset_key == GEX_PARQUET
    ]
    metadata = event.metadata
    path = Path(metadata["path"].value)
    assert path == data_dir / "parquet/gexbot/SPX/gex_zero/20251114.strikes.parquet"
    assert pl.read_parquet(path).height == metadata["dagster/row_count"].value == 3
    assert (data_dir / "views.duckdb").exists()
