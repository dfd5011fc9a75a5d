"""The pipeline's metrics file: counts add up across runs and processes, runs record into it."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.defs.gex.keys import GEX_PARQUET
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import ParquetStore
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.metrics.pipeline import PIPELINE_FILE, record_checks, record_partitions
from gex_pipeline.lib.staging.layout import seq_of
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline_tests.support.metrics import sample
from gex_pipeline_tests.support.resources import tables_for
from gex_pipeline_tests.support.staging_trees import GexStagingTree

SPX_KEY = "2025-11-14|SPX.gex_zero"
NQ_KEY = "2025-11-14|NQ_NDX.gex_one"


def _text(metrics_dir: Path) -> str:
    return (metrics_dir / PIPELINE_FILE).read_text()


def test_counts_add_up_across_calls_and_stamp_the_last_success(tmp_path: Path) -> None:
    record_partitions(["gex_parquet"], done=["SPX.gex_zero"], metrics_dir=tmp_path)
    record_partitions(["gex_parquet"], ["SPX.gex_zero"], ["NQ_NDX.gex_one"], metrics_dir=tmp_path)
    record_checks([("duplicate_rows", True), ("spot_spikes", False)], metrics_dir=tmp_path)
    record_checks([("spot_spikes", False)], metrics_dir=tmp_path)
    text = _text(tmp_path)
    done = {"asset": "gex_parquet", "feed": "SPX.gex_zero", "result": "done"}
    assert sample(text, "gex_pipeline_partitions_total", **done) == 2
    failed = {**done, "feed": "NQ_NDX.gex_one", "result": "failed"}
    assert sample(text, "gex_pipeline_partitions_total", **failed) == 1
    stamp = sample(
        text,
        "gex_pipeline_last_success_timestamp_seconds",
        asset="gex_parquet",
        feed="SPX.gex_zero",
    )
    assert stamp is not None and stamp > 1.7e9
    assert (
        sample(
            text,
            "gex_pipeline_last_success_timestamp_seconds",
            asset="gex_parquet",
            feed="NQ_NDX.gex_one",
        )
        is None
    )  # never succeeded
    assert (
        sample(text, "gex_pipeline_check_evaluations_total", check="spot_spikes", result="failed")
        == 2
    )
    assert (
        sample(
            text, "gex_pipeline_check_evaluations_total", check="duplicate_rows", result="passed"
        )
        == 1
    )


def _record_many(metrics_dir: str, n: int) -> None:
    for _ in range(n):
        record_checks([("duplicate_rows", True)], metrics_dir=Path(metrics_dir))


def test_concurrent_processes_lose_no_count(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_record_many, args=(str(tmp_path), 25)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    text = _text(tmp_path)
    assert (
        sample(
            text, "gex_pipeline_check_evaluations_total", check="duplicate_rows", result="passed"
        )
        == 50
    )


def test_an_unwritable_metrics_directory_fails_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    record_checks([("duplicate_rows", True)], metrics_dir=blocker / "metrics")  # logged, no raise


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        yield instance


def test_an_export_run_records_its_partition_and_check_verdicts(
    instance: dg.DagsterInstance, data_dir: Path, gex_staging: GexStagingTree
) -> None:
    gex_staging.seal([gex_staging.record()])
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        sealed = sorted(gex_staging.dirs.sealed.iterdir())
        load_segments(con, [Segment(seq_of(p.name), p) for p in sealed])
    instance.add_dynamic_partitions("feed", ["SPX.gex_zero", "NQ_NDX.gex_one"])
    resources = {
        "tables": tables_for(data_dir),
        "parquet": ParquetStore(
            root=str(data_dir / "parquet" / "gexbot"), views_file=str(data_dir / "views.duckdb")
        ),
    }
    reconciled = dg.AssetSelection.checks(dg.AssetCheckKey(GEX_PARQUET, "parquet_reconciliation"))
    dg.materialize(
        [gex_tables],
        selection=dg.AssetSelection.assets(GEX_PARQUET).without_checks() | reconciled,
        resources=resources,
        instance=instance,
        partition_key=SPX_KEY,
    )
    empty = dg.materialize(
        [gex_tables],
        selection=dg.AssetSelection.assets(GEX_PARQUET).without_checks(),
        resources=resources,
        instance=instance,
        partition_key=NQ_KEY,
        raise_on_error=False,
    )
    assert not empty.success  # no data for that feed-day
    text = _text(data_dir / "metrics")
    exported = {"asset": "gex_parquet", "feed": "SPX.gex_zero", "result": "done"}
    assert sample(text, "gex_pipeline_partitions_total", **exported) == 1
    refused = {"asset": "gex_parquet", "feed": "NQ_NDX.gex_one", "result": "failed"}
    assert sample(text, "gex_pipeline_partitions_total", **refused) == 1
    verdict = {"check": "parquet_reconciliation", "result": "passed"}
    assert sample(text, "gex_pipeline_check_evaluations_total", **verdict) == 1
