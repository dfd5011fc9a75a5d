"""`gex-pipeline validate`: the checks over the Parquet files, a readable table or JSON, coverage,
exit 1 on an ERROR, 2 on bad arguments."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.cli.main import main
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import export_partition
from gex_pipeline.lib.history.day_import import import_day_file

DAY = date(2025, 11, 14)
ARGS = ["validate", "--from", "2025-11-13", "--to", "2025-11-14", "--cadence", "10"]


@pytest.fixture
def exported(data_dir: Path, tmp_path: Path) -> Path:
    """One clean full session of SPX.gex_zero exported to Parquet (10 s cadence, 2 strikes)."""
    made = make_day_file(
        tmp_path / "files", DAY, "SPX", "gex_zero", snapshots=None, strikes=2, cadence=10
    )
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        import_day_file(
            con, made.path, ticker="SPX", endpoint="gex_zero", trade_date=DAY,
            backups_dir=tmp_path / "backups",
        )  # fmt: skip
        export_partition(con, data_dir / "parquet" / "gexbot", "SPX", "gex_zero", DAY)
    return tmp_path / "gex.db"


def test_clean_day_exits_0_and_reports_the_missing_session(exported, capsys):
    assert main(ARGS) == 0
    out = capsys.readouterr().out
    assert "2025-11-14  SPX.gex_zero           present" in out
    assert "2025-11-13  SPX.gex_zero           missing" in out
    assert "SPX.gex_zero           missing 1, present 1" in out


def test_error_check_exits_1_and_names_the_check_in_json(exported, data_dir, capsys):
    with connect(exported) as con:
        con.execute("UPDATE gex_strikes SET timestamp = timestamp + 86400000 WHERE rowid = 0")
        export_partition(con, data_dir / "parquet" / "gexbot", "SPX", "gex_zero", DAY)
    assert main([*ARGS, "--json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    (day,) = [r for r in reports if r["date"] == "2025-11-14"]
    assert day["failed"] == ["trade_date_mismatch"]


def test_bad_feed_is_refused_naming_the_option(exported, capsys):
    assert main([*ARGS, "--feed", "not-a-feed"]) == 2
    assert "feed key" in capsys.readouterr().out


def test_option_trades_file_with_a_repeated_id_is_an_error(exported, data_dir, capsys):
    folder = data_dir / "parquet" / "uw" / "option_trades"
    folder.mkdir(parents=True)
    rows = {
        "id": ["a", "a"],
        "executed_at": [1763132400000, 1763132401000],
        "trade_date": [DAY, DAY],
        "option_chain_id": ["SPXW251114P06700000", "SPXW251114P06700000"],
        "cast_failures": [[], []],
    }
    pl.DataFrame(rows).write_parquet(folder / "20251114.parquet")
    assert main(ARGS) == 1
    out = capsys.readouterr().out
    assert "option_trades" in out
    assert "unique_trade_ids (ERROR)" in out
