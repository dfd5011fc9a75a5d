"""ERROR checks gate publishing: a partition whose ERROR check fails is not exported to Parquet,
the previous file stays, and the run (or the import's metadata) says why."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.defs.gex.assets import gex_parquet
from gex_pipeline.defs.gex.checks import gex_checks, integrity_check_specs
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_SNAPSHOTS, GEX_STRIKES
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.history.jobs import gex_history_job
from gex_pipeline.defs.partitions import gex_partitions as GEX_PARTITIONS
from gex_pipeline.defs.resources import ParquetStore, Tables
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import parquet_path
from gex_pipeline.lib.history.sources import raw_dir, raw_file_name
from gex_pipeline_tests.support.resources import tables_for

DAY = date(2025, 11, 14)
TICKER, ENDPOINT = "SPX", "gex_zero"
PARTITION = "2025-11-14|SPX.gex_zero"
NEXT_DAY_MS = (1763130600 + 86_400) * 1000


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


def _keep_raw_file(data_dir: Path, defects: str = "") -> None:
    """A kept raw day file, so the history import runs without a download."""
    day = make_day_file(
        data_dir / "files", DAY, TICKER, ENDPOINT, snapshots=300, strikes=5, defects=defects
    )
    folder = raw_dir(data_dir / "source" / "gexbot", TICKER, ENDPOINT)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(day.path, folder / raw_file_name(DAY, TICKER, ENDPOINT, True))


def _import(instance, resources) -> dg.ExecuteInProcessResult:
    """The history job (tables, their checks, the export) over the kept raw file."""
    defs = dg.Definitions(
        assets=[gex_tables, gex_parquet],
        asset_checks=gex_checks,
        jobs=[gex_history_job],
        resources=resources,
    )
    return defs.resolve_job_def("gex_history_job").execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )


def _file(data_dir: Path) -> Path:
    return parquet_path(data_dir / "parquet" / "gexbot", TICKER, ENDPOINT, DAY)


def _file_a_row_under_the_wrong_date(data_dir: Path) -> None:
    with connect(data_dir / "gex_data.db") as con:
        migrate(con)
        con.execute(
            "INSERT INTO gex_strikes VALUES ($t, $e, $ts, $d, 6800, 1, 1, NULL)",
            {"t": TICKER, "e": ENDPOINT, "ts": NEXT_DAY_MS, "d": DAY},
        )


def test_export_refuses_a_partition_whose_error_check_fails_and_keeps_the_old_file(
    data_dir, instance, resources
):
    _keep_raw_file(data_dir)
    assert _import(instance, resources).success
    before = _file(data_dir).read_bytes()
    _file_a_row_under_the_wrong_date(data_dir)
    result = dg.materialize(
        [gex_parquet, gex_tables],
        selection=[gex_parquet],
        partition_key=PARTITION,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not exported to Parquet" in failure.event_specific_data.error.message
    assert "trade_date_mismatch" in failure.event_specific_data.error.message
    assert _file(data_dir).read_bytes() == before
    assert not result.asset_materializations_for_node("gex_parquet")


def test_import_of_a_file_with_rows_of_another_date_is_stored_but_not_published(
    data_dir, instance, resources
):
    _keep_raw_file(data_dir, "wrong_date")
    result = _import(instance, resources)
    failed = [e.asset_check_key.name for e in result.get_asset_check_evaluations() if not e.passed]
    assert "history_foreign_rows" in failed
    assert instance.get_latest_materialization_event(GEX_SNAPSHOTS) is not None  # stored
    assert not _file(data_dir).exists()
    assert instance.get_latest_materialization_event(GEX_PARQUET) is None


def test_blocking_check_failure_skips_the_export_in_the_same_run(data_dir, instance, resources):
    _keep_raw_file(data_dir)
    assert _import(instance, resources).success
    before = _file(data_dir).read_bytes()
    _file_a_row_under_the_wrong_date(data_dir)
    gates = [spec.key for spec in integrity_check_specs if spec.blocking]
    defs = dg.Definitions(
        assets=[gex_parquet, gex_tables],
        asset_checks=gex_checks,
        jobs=[
            dg.define_asset_job(
                "export_after_checks",
                selection=dg.AssetSelection.assets(GEX_PARQUET) | dg.AssetSelection.checks(*gates),
            )
        ],
        resources=resources,
    )
    job = defs.resolve_job_def("export_after_checks")
    result = job.execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.asset_check_key.name for e in failed] == ["trade_date_mismatch"]
    assert failed[0].blocking
    assert not result.asset_materializations_for_node("gex_parquet")
    assert _file(data_dir).read_bytes() == before


def _table_job(write: bool) -> tuple[list, dg.UnresolvedAssetJobDefinition]:
    """A stand-in for issue 9's table multi-asset (it only adds a wrong-date row when `write`)
    and the job shape it is to have: the tables and `gex_parquet`, selected by asset key."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(key, partitions_def=GEX_PARTITIONS) for key in (GEX_SNAPSHOTS, GEX_STRIKES)
        ],
        name="tables_stand_in",
    )
    def tables(tables: Tables):
        if write:
            with connect(tables.db_path()) as con:
                migrate(con)
                con.execute(
                    "INSERT INTO gex_strikes VALUES ($t, $e, $ts, $d, 6800, 1, 1, NULL)",
                    {"t": TICKER, "e": ENDPOINT, "ts": NEXT_DAY_MS, "d": DAY},
                )
        yield dg.MaterializeResult(asset_key=GEX_SNAPSHOTS)
        yield dg.MaterializeResult(asset_key=GEX_STRIKES)

    job = dg.define_asset_job(
        "import_job", selection=dg.AssetSelection.assets(GEX_SNAPSHOTS, GEX_STRIKES, GEX_PARQUET)
    )
    return [tables, gex_parquet], job


@pytest.mark.parametrize("bad", [False, True])
def test_a_job_selecting_the_tables_and_the_export_runs_the_checks_between_them(
    data_dir, instance, resources, bad
):
    _keep_raw_file(data_dir)
    assert _import(instance, resources).success
    before = _file(data_dir).read_bytes()
    assets, job = _table_job(write=bad)
    defs = dg.Definitions(assets=assets, asset_checks=gex_checks, jobs=[job], resources=resources)
    result = defs.resolve_job_def("import_job").execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert len(checks) == 12 - bad  # no reconciliation when the export is skipped
    exported = result.asset_materializations_for_node("gex_parquet")
    if bad:
        assert not checks["trade_date_mismatch"].passed
        assert not exported
        assert _file(data_dir).read_bytes() == before
    else:
        assert result.success
        # 300 snapshots do not cover the session (a WARN): nothing else fails
        assert [name for name, e in checks.items() if not e.passed] == ["session_coverage"]
        assert exported
