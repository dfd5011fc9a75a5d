"""The integrity asset checks in Dagster: run per date x feed partition against a temp DuckDB,
recorded on the right asset with the right severity and metadata, and launched by their sensor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from gex_pipeline.cli.demo.defects import DayManifest
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.gex.checks import integrity_check_specs
from gex_pipeline.defs.gex.jobs import gex_integrity_job, gex_parquet_job
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import ParquetStore
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import ny_iso
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline_tests.support.dagster_events import run_evaluations
from gex_pipeline_tests.support.lake import lake_update_one_row
from gex_pipeline_tests.support.resources import tables_for

DAY = date(2025, 11, 14)
TICKER, ENDPOINT = "SPX", "gex_zero"
PARTITION = "2025-11-14|SPX.gex_zero"


@pytest.fixture
def instance(data_dir: Path) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
        instance.add_dynamic_partitions("feed", [f"{TICKER}.{ENDPOINT}"])
        yield instance


@pytest.fixture
def resources(data_dir: Path) -> dict[str, dg.ConfigurableResource]:
    return {
        "tables": tables_for(data_dir),
        "parquet": ParquetStore(
            root=str(data_dir / "parquet" / "gexbot"), views_file=str(data_dir / "views.duckdb")
        ),
    }


def _import_day(data_dir: Path, defects: str = "") -> DayManifest:
    day = make_day_file(
        data_dir / "source", DAY, TICKER, ENDPOINT, snapshots=1200, strikes=20, defects=defects
    )
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        import_day_file(
            con,
            day.path,
            ticker=TICKER,
            endpoint=ENDPOINT,
            trade_date=DAY,
            backups_dir=data_dir / "backups",
        )
    return day.manifest


def _export(instance, resources) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [gex_tables],
        selection=dg.AssetSelection.assets("gex_parquet"),
        partition_key=PARTITION,
        resources=resources,
        instance=instance,
    )


def _run_checks(instance, resources, rescan: bool = False) -> dict[str, dg.AssetCheckEvaluation]:
    defs = dg.Definitions(
        assets=[gex_tables],
        jobs=[gex_integrity_job],
        resources=resources,
    )
    job = defs.resolve_job_def(gex_integrity_job.name)
    config = {"ops": {"gex_integrity_checks": {"config": {"rescan": True}}}} if rescan else None
    result = job.execute_in_process(instance=instance, partition_key=PARTITION, run_config=config)
    assert result.success
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in run_evaluations(instance, result.run_id)
    }


def test_defect_partition_fails_its_warn_checks_with_metadata(data_dir, instance, resources):
    manifest = _import_day(data_dir, "gap,spike,zero,out_of_session")
    _export(instance, resources)
    checks = _run_checks(instance, resources)
    failed = {key: e.severity for key, e in checks.items() if not e.passed}
    assert failed == {
        "gex_snapshots:timestamp_gaps": dg.AssetCheckSeverity.WARN,
        "gex_snapshots:spot_spikes": dg.AssetCheckSeverity.WARN,
        "gex_snapshots:zero_snapshots": dg.AssetCheckSeverity.WARN,
        "gex_snapshots:out_of_session_rows": dg.AssetCheckSeverity.WARN,
        # 1200 snapshots end at 09:50: the session is not covered.
        "gex_snapshots:session_coverage": dg.AssetCheckSeverity.WARN,
    }
    (gap,) = manifest.of_kind("gap")
    gaps = checks["gex_snapshots:timestamp_gaps"].metadata
    assert gaps["gaps"].value == 1
    assert gaps["missing_seconds"].value == gap.detail["missing"]
    assert gaps["longest_gap_after"] == dg.MetadataValue.timestamp(float(gap.start - 1))
    assert gaps["longest_gap_resumed"] == dg.MetadataValue.timestamp(float(gap.end + 1))
    (block,) = gaps["blocks_gap"].value.records
    assert block.data == {
        "start": ny_iso((gap.start - 1) * 1000),
        "end": ny_iso((gap.end + 1) * 1000),
        "length": gap.detail["missing"],
    }
    (spike,) = manifest.of_kind("spike")
    spikes = checks["gex_snapshots:spot_spikes"].metadata
    assert ny_iso(spike.timestamps[0] * 1000) in spikes["examples_spike"].value


def test_every_check_is_recorded_for_the_run_partition(data_dir, instance, resources):
    _import_day(data_dir)
    _export(instance, resources)
    checks = _run_checks(instance, resources)
    assert len(checks) == len(integrity_check_specs)
    assert {e.partition for e in checks.values()} == {PARTITION}
    assert [k for k, e in checks.items() if not e.passed] == ["gex_snapshots:session_coverage"]


def test_export_run_reconciles_the_file_it_wrote(data_dir, instance, resources):
    _import_day(data_dir)
    result = _export(instance, resources)
    (evaluation,) = run_evaluations(instance, result.run_id)
    assert (
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        == "gex_parquet:parquet_reconciliation"
    )
    assert evaluation.passed
    assert evaluation.metadata["parquet_rows"].value == 1200 * 20


def test_parquet_edited_behind_the_pipeline_fails_reconciliation_as_error(
    data_dir, instance, resources
):
    _import_day(data_dir)
    _export(instance, resources)
    path = next((data_dir / "parquet" / "gexbot").rglob("*.strikes.parquet"))
    pl.read_parquet(path).head(100).write_parquet(path)
    evaluation = _run_checks(instance, resources)["gex_parquet:parquet_reconciliation"]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.metadata["duckdb_rows"].value == 1200 * 20
    assert evaluation.metadata["parquet_rows"].value == 100


def test_export_job_checks_the_partition_exports_it_and_reconciles_the_file(
    data_dir, instance, resources
):
    _import_day(data_dir)
    defs = dg.Definitions(
        assets=[gex_tables],
        jobs=[gex_parquet_job],
        resources=resources,
    )
    result = defs.resolve_job_def("gex_parquet_job").execute_in_process(
        instance=instance, partition_key=PARTITION
    )
    assert result.success
    checks = {e.check_name: e for e in run_evaluations(instance, result.run_id)}
    assert len(checks) == len(integrity_check_specs)
    assert checks["parquet_reconciliation"].passed
    assert checks["parquet_reconciliation"].metadata["parquet_rows"].value == 1200 * 20


def test_a_rescan_run_finds_a_row_updated_behind_the_pipeline(data_dir, instance, resources):
    _import_day(data_dir)
    _export(instance, resources)
    lake_update_one_row(data_dir, "gex_strikes", "gamma")
    key = "gex_parquet:parquet_reconciliation"
    assert _run_checks(instance, resources)[key].passed  # the figures cannot see it
    evaluation = _run_checks(instance, resources, rescan=True)[key]
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.metadata["duckdb_figures"].value == "scanned"
