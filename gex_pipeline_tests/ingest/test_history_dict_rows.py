"""Day files whose snapshots hold legacy dict strike rows import like array rows (real DuckDB)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.history.day_format import DayFileInvalid
from gex_pipeline.lib.history.day_import import import_day_file

DAY = date(2025, 11, 14)
OPEN_S = 1763130600
SLICE = "ticker = 'SPX' AND endpoint = 'gex_zero' AND trade_date = DATE '2025-11-14'"


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "gex.db") as connection:
        migrate(connection)
        yield connection


def _import(con, tmp_path: Path, records: list[dict]):
    path = tmp_path / "2025-11-14_SPX_classic_gex_zero.json"
    path.write_text(json.dumps(records))
    return import_day_file(
        con,
        path,
        ticker="SPX",
        endpoint="gex_zero",
        trade_date=DAY,
        backups_dir=tmp_path / "backups",
    )


def test_dict_strike_rows_are_imported_like_array_rows(con, tmp_path: Path) -> None:
    stats = _import(
        con,
        tmp_path,
        [
            {
                "timestamp": OPEN_S,
                "spot": 6734.25,
                "strikes": [
                    [6700, 1.5, 2.0, [1, 2, 3, 4, 5]],
                    {"strike": 6705, "gamma_now": 0.5, "vanna": -1.0, "history": [5, 4, 3, 2, 1]},
                    {"strike": "6710", "gamma": 0.25, "oi_gamma": 3.0},
                ],
            },
            {"timestamp": OPEN_S + 1, "strikes": [{"strike": 6700, "gamma": 9.0}]},
        ],
    )
    assert (stats.snapshots, stats.strike_rows) == (2, 4)
    rows = con.sql(
        f"SELECT timestamp, strike, gamma, oi_gamma, priors FROM gex_strikes WHERE {SLICE} "
        "ORDER BY ALL"
    ).fetchall()
    ms = OPEN_S * 1000
    assert rows == [
        (ms, 6700.0, 1.5, 2.0, [1.0, 2.0, 3.0, 4.0, 5.0]),
        (ms, 6705.0, 0.5, -1.0, [5.0, 4.0, 3.0, 2.0, 1.0]),
        (ms, 6710.0, 0.25, 3.0, None),
        (ms + 1000, 6700.0, 9.0, None, None),
    ]


def test_a_row_that_is_neither_array_nor_object_is_a_bad_strike(con, tmp_path: Path) -> None:
    stats = _import(
        con,
        tmp_path,
        [{"timestamp": OPEN_S, "strikes": [{"strike": 6700, "gamma": 1.0}, 42, [6705, 2.0]]}],
    )
    assert stats.strike_rows == 2
    assert stats.dropped["bad_strike"] == 1


def test_a_file_refused_both_ways_names_the_first_reason(con, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('[{"timestamp": 1763130600, "strikes": [[1, 2]]}, {"timestamp": ')
    with pytest.raises(DayFileInvalid, match="not a valid day file"):
        import_day_file(
            con, path, ticker="SPX", endpoint="gex_zero", trade_date=DAY, backups_dir=tmp_path
        )
