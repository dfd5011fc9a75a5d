"""Daily option-trade checks find each defect at its trade, and the daily Parquet export is
atomic and held back while an ERROR check fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from gex_pipeline.defs.webhooks.assets import webhook_table_specs
from gex_pipeline.defs.webhooks.checks import option_trades_checks
from gex_pipeline.defs.webhooks.jobs import option_trades_parquet_job
from gex_pipeline.defs.webhooks.parquet import UwParquetStore, option_trades_parquet
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.integrity import ERROR, WARN
from gex_pipeline.lib.webhooks.integrity import (
    day_checks,
    executed_at_in_day,
    occ_symbols_parse,
    trade_cast_failures,
    unique_trade_ids,
)
from gex_pipeline.lib.webhooks.parquet_export import export_option_trades, option_trades_path
from gex_pipeline_tests.support.resources import tables_for

DAY = date(2025, 11, 14)
TEN_AM_MS = 1763132400000  # 2025-11-14 10:00 New York


def _trade(con: duckdb.DuckDBPyConnection, trade_id: str, **values: object) -> None:
    row = {
        "id": trade_id,
        "executed_at": TEN_AM_MS,
        "trade_date": DAY,
        "option_chain_id": "SPXW251114P06700000",
        "channel": "option_trades",
        "cast_failures": [],
        **values,
    }
    columns = ", ".join(row)
    marks = ", ".join(f"${k}" for k in row)
    con.execute(
        f"INSERT INTO option_trades_events ({columns}, ingested_at) VALUES ({marks}, now())", row
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gex_data.db"
    with connect(path) as con:
        migrate(con)
        for i in range(5):
            _trade(con, f"t{i}", executed_at=TEN_AM_MS + i * 1000)
    return path


@pytest.fixture
def con(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(db) as connection:
        yield connection


def test_clean_day_passes_every_check(con):
    assert [r.name for r in day_checks(con, DAY) if not r.passed] == []


def test_repeated_trade_id_is_an_error_naming_the_id(con):
    con.execute("CREATE TEMP TABLE trades AS SELECT * FROM option_trades_events")
    con.execute("INSERT INTO trades SELECT * FROM trades WHERE id = 't3'")
    result = unique_trade_ids(con, DAY, table="trades")
    assert (result.passed, result.severity) == (False, ERROR)
    assert result.counts == {"repeated_ids": 1, "extra_rows": 1}
    assert result.details["example_ids"] == "t3"


def test_symbol_that_is_not_occ_is_a_warn_naming_the_trade(con):
    _trade(con, "bad", option_chain_id="SPX-NOT-A-SYMBOL")
    result = occ_symbols_parse(con, DAY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.counts == {"unparsed_symbols": 1}
    assert result.details["example_ids"] == "bad"


def test_trade_executed_on_another_day_is_an_error_at_its_time(con):
    next_day = TEN_AM_MS + 86_400_000
    _trade(con, "late", executed_at=next_day)
    _trade(con, "none", executed_at=None)
    result = executed_at_in_day(con, DAY)
    assert (result.passed, result.severity) == (False, ERROR)
    assert result.counts == {"missing_executed_at": 1, "other_day": 1}
    assert result.examples["executed_at"] == (next_day,)


def test_cast_failure_is_a_warn_naming_the_field(con):
    _trade(con, "cast", cast_failures=["premium"])
    result = trade_cast_failures(con, DAY)
    assert (result.passed, result.severity) == (False, WARN)
    assert result.details["fields"] == "premium"


def test_export_writes_the_day_sorted_and_replaces_the_file_atomically(con, tmp_path):
    first = export_option_trades(con, tmp_path / "uw", DAY)
    assert first.path == tmp_path / "uw" / "option_trades" / "20251114.parquet"
    assert pl.read_parquet(first.path)["id"].to_list() == [f"t{i}" for i in range(5)]
    _trade(con, "t9", executed_at=TEN_AM_MS + 9000)
    assert export_option_trades(con, tmp_path / "uw", DAY).rows == 6
    assert [p.name for p in first.path.parent.iterdir()] == ["20251114.parquet"]


def test_export_of_an_empty_day_fails_and_keeps_nothing(con, tmp_path):
    with pytest.raises(ValueError, match="2025-11-13"):
        export_option_trades(con, tmp_path / "uw", date(2025, 11, 13))


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        yield instance


def _run_export_job(db: Path, root: Path, instance: dg.DagsterInstance):
    defs = dg.Definitions(
        assets=[option_trades_parquet, *webhook_table_specs],
        asset_checks=[option_trades_checks],
        jobs=[option_trades_parquet_job],
        resources={
            "tables": tables_for(db.parent),
            "uw_parquet": UwParquetStore(root=str(root)),
        },
    )
    job = defs.resolve_job_def("option_trades_parquet_job")
    return job.execute_in_process(
        instance=instance, partition_key="2025-11-14", raise_on_error=False
    )


def test_export_job_checks_the_day_then_exports_it(db, tmp_path, instance):
    result = _run_export_job(db, tmp_path / "uw", instance)
    assert result.success
    assert {e.asset_check_key.name for e in result.get_asset_check_evaluations()} == {
        "unique_trade_ids",
        "occ_symbols_parse",
        "executed_at_in_day",
        "trade_cast_failures",
    }
    assert option_trades_path(tmp_path / "uw", DAY).exists()


def test_export_job_keeps_a_day_with_an_error_out_of_parquet(db, tmp_path, instance):
    assert _run_export_job(db, tmp_path / "uw", instance).success
    before = option_trades_path(tmp_path / "uw", DAY).read_bytes()
    with connect(db) as con:
        _trade(con, "late", executed_at=TEN_AM_MS + 86_400_000)
    result = _run_export_job(db, tmp_path / "uw", instance)
    failed = [e.asset_check_key.name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == ["executed_at_in_day"]
    assert not result.asset_materializations_for_node("option_trades_parquet")
    assert option_trades_path(tmp_path / "uw", DAY).read_bytes() == before
