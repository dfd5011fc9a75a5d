"""Open lake tables shared by a job's workspace, reader and export (`TableCache`, `TableStore`).

Each open replays a table's log since its checkpoint (a request per commit on object storage):
an import opens each table once, and a workspace's tables stay the conflict base they were read
at while the rest of the job brings the cache up to date.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from deltalake.exceptions import CommitFailedError

from gex_pipeline.cli.demo.history_day import make_day_file
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.gex.integrity import CHECKED_TABLES
from gex_pipeline.lib.history.partition_import import IMPORT_TABLES, import_partition
from gex_pipeline.lib.history.sources import raw_dir, raw_file_name
from gex_pipeline.lib.lake.store import TableStore
from gex_pipeline.lib.lake.tables import Lake, Partition
from gex_pipeline.lib.lake.writes import lake_rows, replace
from gex_pipeline.settings import Settings

DAY = date(2025, 11, 14)
TARGET = FeedDay(DAY, "SPX", "gex_zero")


def _import(settings: Settings, tmp_path: Path, seed: int) -> None:
    day = make_day_file(tmp_path / f"files{seed}", DAY.isoformat(), "SPX", "gex_zero", seed=seed,
                        snapshots=30, strikes=10)  # fmt: skip
    folder = raw_dir(settings.paths.source_dir, "SPX", "gex_zero")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(day.path, folder / raw_file_name(DAY, "SPX", "gex_zero", True))
    import_partition(
        TARGET,
        store=TableStore.from_settings(settings),
        paths=settings.paths,
        history=settings.history,
        parquet_root=settings.paths.parquet_dir,
    )


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count `Lake.open` calls by table name from now on."""
    opened: Counter[str] = Counter()
    real_open = Lake.open

    def counting_open(self: Lake, name: str, version: int | None = None):  # type: ignore[no-untyped-def]
        opened[name] += 1
        return real_open(self, name, version)

    monkeypatch.setattr(Lake, "open", counting_open)
    return opened


def test_an_import_opens_each_lake_table_once(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env()
    _import(settings, tmp_path, seed=1)  # the tables exist: the next import reads and writes them
    opened = _count_opens(monkeypatch)
    _import(settings, tmp_path, seed=2)
    assert opened["gex_strikes"] == 1 and opened["gex_snapshots"] == 1
    assert max(opened.values()) == 1, opened
    assert set(opened) == {*IMPORT_TABLES, *CHECKED_TABLES, "gex_partition_changes"}, opened
    assert (settings.paths.parquet_dir / "SPX" / "gex_zero" / "20251114.strikes.parquet").exists()


def test_an_import_commits_nothing_to_a_partition_empty_before_and_after(
    data_dir: Path, tmp_path: Path
) -> None:
    """No rejects and no live rows: the rejects and shadow tables get no empty commit (a round
    trip per request on object storage), the replaced tables do."""
    settings = Settings.from_env()
    _import(settings, tmp_path, seed=1)  # creates every table it writes, empty ones included
    lake = TableStore.from_settings(settings).lake
    names = ("gex_history_rejects", "gex_live_shadow", "gex_strikes", "gex_snapshots")

    def versions() -> dict[str, int]:
        return {name: lake.open(name).version() for name in names}  # type: ignore[union-attr]

    before = versions()
    _import(settings, tmp_path, seed=2)
    after = versions()
    assert after["gex_history_rejects"] == before["gex_history_rejects"]
    assert after["gex_live_shadow"] == before["gex_live_shadow"]
    assert after["gex_strikes"] == before["gex_strikes"] + 1
    assert after["gex_snapshots"] == before["gex_snapshots"] + 1


def test_a_workspace_keeps_its_conflict_base_while_the_cache_moves_on(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = Settings.from_env()
    _import(settings, tmp_path, seed=1)
    store = TableStore.from_settings(settings)
    partition = TARGET.partition
    with store.workspace(partition) as ws:
        ws.load("gex_snapshots")
        read_at = ws.base("gex_snapshots").version()  # type: ignore[union-attr]
        # another writer changes the partition after the workspace read it ...
        replace(
            Lake(store.lake.root),
            "gex_snapshots",
            partition,
            lake_rows(ws.con, "gex_snapshots", "SELECT * FROM gex_snapshots LIMIT 1"),
            writer="other",
        )
        # ... and the job's reader brings the cache's table up to date meanwhile
        latest = store.tables.get("gex_snapshots")
        assert latest is not None and latest.version() == read_at + 1
        assert ws.base("gex_snapshots").version() == read_at  # type: ignore[union-attr]
        with pytest.raises(CommitFailedError):
            ws.write_back(["gex_snapshots"], writer="job")
    assert store.tables.get("gex_snapshots").version() == read_at + 1  # type: ignore[union-attr]


def test_a_written_back_table_returns_to_the_cache_at_its_new_version(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = Settings.from_env()
    _import(settings, tmp_path, seed=1)
    store = TableStore.from_settings(settings)
    with store.workspace(Partition(DAY, "SPX.gex_zero")) as ws:
        ws.load("gex_snapshots")
        before = ws.write_back(["gex_snapshots"], writer="job")["gex_snapshots"]
    table = store.tables.opened["gex_snapshots"]
    assert table.version() == before + 1
    assert Lake(store.lake.root).open("gex_snapshots").version() == before + 1  # type: ignore[union-attr]


def test_a_reader_refreshing_a_table_cache_opens_each_table_once(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gex_pipeline.lib.lake.reads import connect_lake, refresh
    from gex_pipeline.lib.lake.tables import TableCache

    settings = Settings.from_env()
    _import(settings, tmp_path, seed=1)
    real_open = Lake.open  # the other writer's opens are not counted
    opened = _count_opens(monkeypatch)
    tables = TableCache(Lake(str(settings.paths.lake_dir)))
    count = "SELECT count(*) FROM gex_snapshots"
    with connect_lake(tables, ["gex_snapshots"]) as con:
        first = con.execute(count).fetchall()[0][0]
        other = Lake(str(settings.paths.lake_dir))  # another writer, its own open uncounted
        replace(other, "gex_snapshots", TARGET.partition,
                lake_rows(con, "gex_snapshots", "SELECT * FROM gex_snapshots LIMIT 1"),
                writer="other", base=real_open(other, "gex_snapshots"))  # fmt: skip
        refresh(con, tables, ["gex_snapshots"])  # the new commit, read into the open table
        assert (first, con.execute(count).fetchall()[0][0]) == (30, 1)
    assert opened["gex_snapshots"] == 1
