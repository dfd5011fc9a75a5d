"""The disaster drill: delete gex_data.db, `gex-pipeline rebuild`, get identical tables."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gex_pipeline.cli import main
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.staging.reader import move_to_processed
from gex_pipeline_tests.ops.conftest import LIVE_DAY, Populated, all_rows, table_rows
from gex_pipeline_tests.support.figures import recomputed_figures, recorded_figures
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree


def test_rebuild_after_the_database_is_deleted_gives_identical_tables(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    db = populated.settings.paths.duckdb_path
    before = all_rows(db)
    assert all(before[t] for t in ("gex_snapshots", "gex_strikes", "option_trades_events"))
    assert before["gex_conflicts"]
    db.unlink()
    db.with_name(db.name + ".wal").unlink(missing_ok=True)
    assert main(["rebuild"]) == 0
    assert "1 raw day files imported" in capsys.readouterr().out
    assert all_rows(db) == before


def test_rebuild_keeps_the_order_of_live_data_and_later_imports(
    populated: Populated, tmp_path: Path
) -> None:
    """Live rows that reached a slice after its import are kept on top of the imported slice."""
    settings = populated.settings
    os.utime(populated.raw_file, ns=(time.time_ns(), time.time_ns()))
    gex = GexStagingTree(settings.paths.staging_dir)
    late = gex.seal([gex.record("NQ_NDX", "gex_zero", GEX_BASE_MS - 86_400_000 + 7)])
    with connect(settings.paths.duckdb_path) as con:
        load_segments(con, [late])
    move_to_processed(gex.dirs, [late.name])
    before = all_rows(settings.paths.duckdb_path)
    assert main(["rebuild", "--force"]) == 0
    assert all_rows(settings.paths.duckdb_path) == before


def test_rebuild_refuses_an_existing_database_and_keeps_it_aside_with_force(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    db = populated.settings.paths.duckdb_path
    with connect(db) as con:
        con.execute("DELETE FROM gex_snapshots WHERE ticker = 'SPX'")
    damaged = table_rows(db, "gex_snapshots")
    assert main(["rebuild"]) == 2
    assert "refused" in capsys.readouterr().out
    assert main(["rebuild", "--force"]) == 0
    kept = Path(capsys.readouterr().out.split("kept as ")[1].split()[0])
    assert table_rows(kept, "gex_snapshots") == damaged
    assert len(table_rows(db, "gex_snapshots")) > len(damaged)


def test_slices_only_in_parquet_get_their_strike_rows_back(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staging purged by retention: the exported day comes back from Parquet (strikes only)."""
    settings = populated.settings
    db = settings.paths.duckdb_path
    strikes = [r for r in table_rows(db, "gex_strikes") if r[1] == "gex_zero" and r[0] == "SPX"]
    for segment in (settings.paths.staging_dir / "gex" / "processed").iterdir():
        segment.unlink()
    db.unlink()
    assert main(["rebuild"]) == 0
    assert f"{LIVE_DAY}|SPX.gex_zero" in capsys.readouterr().out
    rebuilt = [r for r in table_rows(db, "gex_strikes") if r[1] == "gex_zero" and r[0] == "SPX"]
    assert rebuilt == strikes
    with connect(db) as con:
        assert recorded_figures(con) == recomputed_figures(con)
