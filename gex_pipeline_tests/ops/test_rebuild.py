"""The disaster drill: `gex-pipeline rebuild` gives identical tables, per partition, resumably."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from gex_pipeline.cli import main
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.lake.changes import changes
from gex_pipeline.lib.lake.tables import Lake, Partition
from gex_pipeline.lib.ops.rebuild import PROGRESS_FILE, plan, rebuild_lake
from gex_pipeline.lib.staging.reader import move_to_processed
from gex_pipeline_tests.ops.conftest import (
    HISTORY_DAY,
    LIVE_DAY,
    Populated,
    all_rows,
    seal_all,
    table_rows,
)
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree


def test_rebuild_into_a_new_lake_gives_identical_tables(
    populated: Populated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = all_rows(populated.lake)
    assert all(before[t] for t in ("gex_snapshots", "gex_strikes", "option_trades_events"))
    assert before["gex_conflicts"]
    target = tmp_path / "drill"
    assert main(["rebuild", "--into", str(target)]) == 0
    out = capsys.readouterr().out
    assert "from raw_file" in out and "from staging" in out
    assert all_rows(Lake(str(target))) == before


def test_rebuild_keeps_the_order_of_live_data_and_later_imports(
    populated: Populated, tmp_path: Path
) -> None:
    """Live rows that reached a feed-day after its import are kept on top of the imported rows."""
    settings = populated.settings
    os.utime(populated.raw_file, ns=(time.time_ns(), time.time_ns()))
    gex = GexStagingTree(settings.paths.staging_dir)
    late = gex.seal([gex.record("NQ_NDX", "gex_zero", GEX_BASE_MS - 86_400_000 + 7)])
    with connect(settings.paths.duckdb_path) as con:
        load_segments(con, [late])
    move_to_processed(gex.dirs, [late.name])
    seal_all(settings.paths.duckdb_path, populated.lake)
    before = table_rows(populated.lake, "gex_snapshots")
    assert main(["rebuild", "--into", str(tmp_path / "drill")]) == 0
    assert table_rows(Lake(str(tmp_path / "drill")), "gex_snapshots") == before


def test_rebuild_in_place_refuses_without_force_and_keeps_the_history(
    populated: Populated, capsys: pytest.CaptureFixture[str]
) -> None:
    before = table_rows(populated.lake, "gex_strikes")
    assert main(["rebuild"]) == 2
    assert "refused" in capsys.readouterr().out
    assert main(["rebuild", "--force"]) == 0
    assert table_rows(populated.lake, "gex_strikes") == before
    history = changes(populated.lake, Partition(HISTORY_DAY, "NQ_NDX.gex_zero"))
    assert [c.writer for c in history] == ["history-import", "rebuild"]


def test_feed_days_only_in_parquet_get_their_strike_rows_back(
    populated: Populated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staging purged by retention: the exported day comes back from Parquet (strikes only)."""
    settings = populated.settings
    spx = [r for r in table_rows(populated.lake, "gex_strikes") if r[:2] == ("SPX", "gex_zero")]
    for segment in (settings.paths.staging_dir / "gex" / "processed").iterdir():
        segment.unlink()
    assert main(["rebuild", "--into", str(tmp_path / "drill")]) == 0
    assert f"{LIVE_DAY}|SPX.gex_zero" in capsys.readouterr().out
    rebuilt = table_rows(Lake(str(tmp_path / "drill")), "gex_strikes")
    assert [r for r in rebuilt if r[:2] == ("SPX", "gex_zero")] == spx


def test_an_interrupted_rebuild_resumes_where_it_stopped(
    populated: Populated, tmp_path: Path
) -> None:
    settings = populated.settings
    target = tmp_path / "drill"
    with connect(settings.paths.duckdb_path) as con:
        keys = [s.key for s in plan(settings, con)]
    first = rebuild_lake(settings, into=target, workers=1)
    assert sorted(first.rebuilt) == sorted(keys)
    shutil.rmtree(target)
    progress = settings.paths.work_dir / f"{target.name}-{PROGRESS_FILE}"
    progress.write_text(json.dumps(keys[:1]))
    resumed = rebuild_lake(settings, into=target, workers=2)
    assert resumed.resumed == keys[:1]
    assert sorted(resumed.rebuilt) == sorted(keys[1:])
    assert not progress.exists()
