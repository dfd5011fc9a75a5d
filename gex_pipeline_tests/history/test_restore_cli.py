"""`gex-pipeline restore` puts a replaced feed-day back as it was, keeping a way back again."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from gex_pipeline.cli import main
from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.history.partition_import import import_partition
from gex_pipeline.lib.history.sources import raw_dir, raw_file_name
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.lake import lake_rows

DAY = date(2025, 11, 14)
FEED = ["--feed", "SPX.gex_zero", "--date", "2025-11-14"]
ROWS = "SELECT timestamp, strike, gamma, oi_gamma, priors FROM gex_strikes ORDER BY ALL"


def _import(settings: Settings, tmp_path: Path, seed: int) -> None:
    """Keep a day file of `seed` as the raw file and import it into the lake."""
    day = make_day_file(tmp_path / f"files{seed}", "2025-11-14", "SPX", "gex_zero", seed=seed,
                        snapshots=60, strikes=20)  # fmt: skip
    folder = raw_dir(settings.paths.source_dir, "SPX", "gex_zero")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(day.path, folder / raw_file_name(DAY, "SPX", "gex_zero", True))
    import_partition(
        FeedDay(DAY, "SPX", "gex_zero"),
        store=TableStore.from_paths(settings.paths),
        paths=settings.paths,
        history=settings.history,
    )


def _rows(settings: Settings) -> list[tuple]:
    return lake_rows(settings.paths.data_dir, ROWS)


@pytest.fixture
def replaced(settings: Settings, tmp_path: Path) -> list[tuple]:
    """Import seed 1, then replace it with seed 2; return seed 1's rows."""
    _import(settings, tmp_path, seed=1)
    original = _rows(settings)
    _import(settings, tmp_path, seed=2)
    assert _rows(settings) != original
    return original


def test_restore_puts_the_state_before_the_newest_replace_back_and_exports_it(
    settings: Settings, replaced: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", *FEED]) == 0
    assert _rows(settings) == replaced
    parquet = settings.paths.parquet_dir / "SPX" / "gex_zero" / "20251114.strikes.parquet"
    assert pl.read_parquet(parquet).height == len(replaced)
    assert "restored SPX.gex_zero 2025-11-14" in capsys.readouterr().out


def test_a_restore_is_a_change_that_can_be_undone(
    settings: Settings, replaced: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    replacement = _rows(settings)
    assert main(["restore", *FEED]) == 0
    capsys.readouterr()
    assert main(["restore", *FEED, "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in listed] == ["history-import", "history-import", "restore"]
    assert main(["restore", *FEED, "--stamp", listed[-1].split()[0]]) == 0
    assert _rows(settings) == replacement


def test_restore_before_the_first_import_refuses_and_changes_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(settings, tmp_path, seed=1)
    before = _rows(settings)
    assert main(["restore", *FEED]) == 2
    assert "held no rows" in capsys.readouterr().out
    assert _rows(settings) == before


def test_restore_of_an_unknown_stamp_refuses(
    settings: Settings, replaced: list[tuple], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", *FEED, "--stamp", "19990101T000000000000Z"]) == 2
    assert "--list" in capsys.readouterr().out
    assert _rows(settings) != replaced


def test_restore_to_a_restore_point(
    settings: Settings, replaced: list[tuple], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replacement = _rows(settings)
    assert main(["backup"]) == 0
    stamp = Path(capsys.readouterr().out.split("backup written: ")[1].split()[0]).name
    _import(settings, tmp_path, seed=3)
    assert _rows(settings) not in (replaced, replacement)
    assert main(["restore", *FEED, "--point", stamp]) == 0
    assert _rows(settings) == replacement


def test_restore_names_a_malformed_feed(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert main(["restore", "--feed", "SPX", "--date", "2025-11-14"]) == 2
    assert "--feed" in capsys.readouterr().out
