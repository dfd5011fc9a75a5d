"""`gex-pipeline restore` puts a replaced slice back from its pre-image, keeping a way back again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from gex_pipeline.cli import main
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.history.day_import import import_day_file
from gex_pipeline.settings import Settings

DAY = date(2025, 11, 14)
FEED = ["--feed", "SPX.gex_zero", "--date", "2025-11-14"]
ROWS = "SELECT timestamp, strike, gamma, oi_gamma, priors FROM gex_strikes ORDER BY ALL"


def _import(settings: Settings, tmp_path: Path, seed: int) -> None:
    day = make_day_file(tmp_path / f"files{seed}", "2025-11-14", "SPX", "gex_zero", seed=seed,
                        snapshots=60, strikes=20)  # fmt: skip
    with connect(settings.paths.duckdb_path) as con:
        migrate(con)
        import_day_file(con, day.path, ticker="SPX", endpoint="gex_zero", trade_date=DAY,
                        backups_dir=settings.paths.backups_dir)  # fmt: skip


def _rows(settings: Settings) -> list[tuple]:
    with connect(settings.paths.duckdb_path, read_only=True) as con:
        return con.sql(ROWS).fetchall()


@pytest.fixture
def replaced(settings: Settings, tmp_path: Path) -> list[tuple]:
    """Import seed 1, then replace it with seed 2; return seed 1's rows."""
    _import(settings, tmp_path, seed=1)
    original = _rows(settings)
    _import(settings, tmp_path, seed=2)
    assert _rows(settings) != original
    return original


def test_restore_puts_the_newest_pre_image_back_and_exports_it(
    settings: Settings, replaced: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", *FEED]) == 0
    assert _rows(settings) == replaced
    parquet = settings.paths.parquet_dir / "SPX" / "gex_zero" / "20251114.strikes.parquet"
    assert pl.read_parquet(parquet).height == len(replaced)
    assert "restored SPX.gex_zero 2025-11-14" in capsys.readouterr().out


def test_restore_keeps_the_overwritten_slice_so_it_can_be_undone(
    settings: Settings, replaced: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    replacement = _rows(settings)
    assert main(["restore", *FEED]) == 0
    capsys.readouterr()
    assert main(["restore", *FEED, "--list"]) == 0
    stamps = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert len(stamps) == 2
    assert main(["restore", *FEED, "--stamp", stamps[-1]]) == 0
    assert _rows(settings) == replacement


def test_restore_without_a_pre_image_refuses_and_changes_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(settings, tmp_path, seed=1)
    before = _rows(settings)
    assert main(["restore", *FEED]) == 2
    assert "no pre-image" in capsys.readouterr().out
    assert _rows(settings) == before


def test_restore_of_an_unknown_stamp_refuses(
    settings: Settings, replaced: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", *FEED, "--stamp", "19990101T000000000000Z"]) == 2
    assert "--stamp" in capsys.readouterr().out
    assert _rows(settings) != replaced


def test_restore_names_a_malformed_feed(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert main(["restore", "--feed", "SPX", "--date", "2025-11-14"]) == 2
    assert "--feed" in capsys.readouterr().out
