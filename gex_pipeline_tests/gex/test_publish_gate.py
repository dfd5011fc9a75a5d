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
from gex_pipeline.defs.gex.jobs import gex_parquet_job
from gex_pipeline.defs.gex.keys import GEX_PARQUET, GEX_SNAPSHOTS
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.history.jobs import gex_history_job
from gex_pipeline.defs.resources import ParquetStore
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import parquet_path
from gex_pipeline.lib.history.sources import raw_dir, raw_file_name
from gex_pipeline_tests.support.dagster_events import run_evaluations, run_materializations
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
        assets=[gex_tables],
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
        [gex_tables],
        selection=dg.AssetSelection.assets("gex_parquet"),
        partition_key=PARTITION,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    # the gates were not selected, so no check records the verdict: the run's failure does
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not exported to Parquet" in failure.event_specific_data.error.message
    assert "trade_date_mismatch" in failure.event_specific_data.error.message
    assert _file(data_dir).read_bytes() == before


def test_export_job_records_the_failed_gate_and_keeps_the_old_file(data_dir, instance, resources):
    """The export sensor's job selects the checks: the failed ERROR check is the verdict (one
    alert) and the run succeeds without exporting."""
    _keep_raw_file(data_dir)
    assert _import(instance, resources).success
    before = _file(data_dir).read_bytes()
    _file_a_row_under_the_wrong_date(data_dir)
    defs = dg.Definitions(assets=[gex_tables], jobs=[gex_parquet_job], resources=resources)
    result = defs.resolve_job_def("gex_parquet_job").execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False
    )
    assert result.success
    failed = [e for e in run_evaluations(instance, result.run_id) if not e.passed]
    assert [e.check_name for e in failed if e.severity == dg.AssetCheckSeverity.ERROR] == [
        "trade_date_mismatch"
    ]
    assert _file(data_dir).read_bytes() == before
    assert instance.get_latest_materialization_event(GEX_PARQUET).run_id != result.run_id
    assert not [
        m
        for m in run_materializations(instance, result.run_id)
        if m.asset_key.to_user_string() == "gex_parquet"
    ]


def test_import_of_a_file_with_rows_of_another_date_is_stored_but_not_published(
    data_dir, instance, resources
):
    _keep_raw_file(data_dir, "wrong_date")
    result = _import(instance, resources)
    failed = [e.check_name for e in run_evaluations(instance, result.run_id) if not e.passed]
    assert "history_foreign_rows" in failed
    assert instance.get_latest_materialization_event(GEX_SNAPSHOTS) is not None  # stored
    assert not _file(data_dir).exists()
    assert instance.get_latest_materialization_event(GEX_PARQUET) is None
