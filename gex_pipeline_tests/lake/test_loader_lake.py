"""The live loader mirrors what it commits to the lake and seals past dates; a kill -9 in the
middle of a lake commit (a partition replace) leaves the lake readable and whole."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.gex.live_load import GexStreamLoad
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.seal import hot_partitions
from gex_pipeline.lib.lake.tables import Lake, Partition, partition_files
from gex_pipeline.lib.lake.writes import PARTITIONS_KEY, WRITER_KEY, lake_rows, replace
from gex_pipeline.lib.live.lake_sync import (
    ROLLUP_MIN_FILES,
    ROLLUP_SECONDS,
    ROLLUP_WRITER,
    LakeSync,
)
from gex_pipeline.lib.live.loader import LiveLoader, LiveStream
from gex_pipeline.lib.live.throttle import ReportThrottle
from gex_pipeline_tests.support.loader_doubles import SettableClock, SilentPublisher
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)
SPX = Partition(DAY, "SPX.gex_zero")


def _loader(data_dir: Path, clock: SettableClock, flush_seconds: float = 2.0) -> LiveLoader:
    lake = Lake(str(data_dir / "lake"))
    return LiveLoader(
        db_path=data_dir / "gex_data.db",
        staging_dir=data_dir / "staging",
        streams=[LiveStream(GexStreamLoad(), ReportThrottle(lambda s: s.trade_date, 0.0))],
        publisher=SilentPublisher(),
        status_path=data_dir / "live" / "status.json",
        clock=clock,
        lake=LakeSync(lake, flush_seconds=flush_seconds),
    )


def _lake_count(data_dir: Path, table: str = "gex_snapshots") -> int:
    with connect_lake(data_dir) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _during_the_session() -> float:
    return datetime(2025, 11, 14, 15, 0, tzinfo=UTC).timestamp()


def test_the_loader_mirrors_committed_rows_every_flush_interval(
    data_dir: Path, gex_staging: GexStagingTree
) -> None:
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + i * 1000) for i in range(3)])
    assert loader.run_once() == 1
    assert _lake_count(data_dir) == 3  # the first pass after a start is due at once
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 10_000)])
    clock.now += 0.5
    loader.run_once()
    assert _lake_count(data_dir) == 3  # committed, not yet mirrored
    clock.now += 2.0
    loader.run_once()
    assert _lake_count(data_dir) == 4
    loader.write_status()
    status = json.loads((data_dir / "live" / "status.json").read_text())
    assert datetime.fromisoformat(status["lake_mirrored_since"]) <= datetime.now(UTC)
    loader.close()


def test_the_loader_seals_past_dates_when_idle(data_dir: Path, gex_staging: GexStagingTree) -> None:
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + i * 1000) for i in range(3)])
    loader.run_once()
    loader.close()
    clock.now = datetime(2025, 11, 17, 14, 0, tzinfo=UTC).timestamp()  # the next session
    loader.run_once()
    loader.close()
    with connect(data_dir / "gex_data.db") as con:
        assert hot_partitions(con) == []
        assert con.execute("SELECT count(*) FROM sealed_partitions").fetchall() == [(1,)]
    assert _lake_count(data_dir, "gex_strikes") == 9


def _files(lake: Lake, table: str, partition: Partition) -> int:
    return len(partition_files(lake.open(table), partition))  # type: ignore[arg-type]


def test_the_roll_up_merges_each_dates_due_partitions_in_one_commit_per_table(
    data_dir: Path, gex_staging: GexStagingTree
) -> None:
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock)
    busy = [Partition(DAY, "SPX.gex_zero"), Partition(DAY, "NDX.gex_zero")]
    quiet = Partition(DAY, "SPY.gex_zero")
    for i in range(ROLLUP_MIN_FILES):  # one lake file per pass and partition
        tickers = ["SPX", "NDX", "SPY"] if i < 2 else ["SPX", "NDX"]
        gex_staging.seal([gex_staging.record(t, timestamp=GEX_BASE_MS + i * 1000) for t in tickers])
        loader.run_once()
        clock.now += 2.0
    lake = Lake(str(data_dir / "lake"))
    assert [_files(lake, "gex_snapshots", p) for p in [*busy, quiet]] == [20, 20, 2]
    clock.now += ROLLUP_SECONDS
    loader.run_once()
    loader.close()
    for table in ("gex_snapshots", "gex_strikes"):
        assert [_files(lake, table, p) for p in [*busy, quiet]] == [1, 1, 2]  # SPY: not due
        rollups = [
            json.loads(c[PARTITIONS_KEY])
            for c in lake.open(table).history()  # type: ignore[union-attr]
            if c.get(WRITER_KEY) == ROLLUP_WRITER
        ]
        assert rollups == [sorted(str(p) for p in busy)]
    assert _lake_count(data_dir) == 2 * ROLLUP_MIN_FILES + 2


def _codecs(lake: Lake, table: str) -> set[str]:
    import pyarrow.parquet as pq

    files = lake.open(table).file_uris()  # type: ignore[union-attr]
    return {pq.ParquetFile(f.removeprefix("file://")).metadata.row_group(0).column(0).compression
            for f in files}  # fmt: skip


@pytest.mark.parametrize(
    "second_ticker",
    [
        pytest.param("SPX", id="beside_a_lasting_file"),
        # NDX's partition holds one pass file: nothing for the roll-up to merge, and the export
        # byte-copies a partition's single file, so the seal must rewrite it
        pytest.param("NDX", id="alone_in_its_partition"),
    ],
)
def test_passes_write_snappy_files_that_the_seal_rewrites_as_zstd(
    data_dir: Path, gex_staging: GexStagingTree, second_ticker: str
) -> None:
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock)
    gex_staging.seal([gex_staging.record("SPX", timestamp=GEX_BASE_MS)])
    loader.run_once()  # the first pass after a start compares whole partitions: lasting files
    lake = Lake(str(data_dir / "lake"))
    assert _codecs(lake, "gex_strikes") == {"ZSTD"}
    gex_staging.seal([gex_staging.record(second_ticker, timestamp=GEX_BASE_MS + 1000)])
    clock.now += 2.0
    loader.run_once()  # a pass of the rows the batch inserted: files the roll-up rewrites
    assert _codecs(lake, "gex_strikes") == {"ZSTD", "SNAPPY"}
    loader.close()
    clock.now = datetime(2025, 11, 17, 14, 0, tzinfo=UTC).timestamp()  # the next session
    loader.run_once()
    loader.run_once()
    loader.close()
    assert _codecs(lake, "gex_strikes") == {"ZSTD"}
    assert _lake_count(data_dir, "gex_strikes") == 6


def test_a_restarted_loader_mirrors_what_the_killed_one_committed(
    data_dir: Path, gex_staging: GexStagingTree
) -> None:
    clock = SettableClock(_during_the_session())
    first = _loader(data_dir, clock, flush_seconds=3600)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS)])
    first.run_once()  # committed and mirrored (the first pass)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    first.run_once()  # committed, not mirrored (flush interval of an hour): then "killed"
    first.close()
    assert _lake_count(data_dir) == 1
    second = _loader(data_dir, clock)
    second.run_once()
    second.close()
    assert _lake_count(data_dir) == 2


def _replace_then_die(lake_root: str) -> None:
    """Replace the SPX partition with rows produced by a stream that kills the process midway."""
    import duckdb
    import pyarrow as pa

    lake = Lake(lake_root)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = lake_rows(
            con,
            "gex_strikes",
            "SELECT 'SPX' AS ticker, 'gex_zero' AS endpoint, 1763130600000 + i AS timestamp,"
            " DATE '2025-11-14' AS trade_date, i * 1.0 AS strike, 1.0 AS gamma, 1.0 AS oi_gamma,"
            " [1.0] AS priors FROM range(2000000) t(i)",
        )
        schema = rows.schema

        def batches():  # type: ignore[no-untyped-def]
            for n, batch in enumerate(rows):
                if n == 5:
                    os.kill(os.getpid(), signal.SIGKILL)
                yield batch

        replace(
            lake,
            "gex_strikes",
            SPX,
            pa.RecordBatchReader.from_batches(schema, batches()),
            writer="test",
        )


def test_a_kill_during_a_partition_replace_leaves_the_old_partition(
    data_dir: Path, gex_staging: GexStagingTree
) -> None:
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + i * 1000) for i in range(3)])
    loader.run_once()
    loader.close()
    lake = Lake(str(data_dir / "lake"))
    version = lake.open("gex_strikes").version()  # type: ignore[union-attr]
    child = multiprocessing.get_context("spawn").Process(
        target=_replace_then_die, args=(lake.root,)
    )
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    assert lake.open("gex_strikes").version() == version  # type: ignore[union-attr]
    assert _lake_count(data_dir, "gex_strikes") == 9
    loader.run_once()  # and the store goes on
    loader.close()


def test_shutdown_mirrors_what_is_pending(data_dir: Path, gex_staging: GexStagingTree) -> None:
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock, flush_seconds=3600)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS)])
    loader.run_once()
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS + 1000)])
    loader.run_once()
    loader.flush()
    loader.close()
    assert _lake_count(data_dir) == 2


def test_an_idle_loader_keeps_the_database_closed_between_seal_checks(
    data_dir: Path, gex_staging: GexStagingTree, monkeypatch
) -> None:
    import gex_pipeline.lib.live.loader as loader_module
    from gex_pipeline.lib.live.lake_sync import SEAL_CHECK_SECONDS

    opened: list[Path] = []

    def counting_connect(path: Path):  # type: ignore[no-untyped-def]
        opened.append(path)
        return connect(path)

    monkeypatch.setattr(loader_module, "connect", counting_connect)
    clock = SettableClock(_during_the_session())
    loader = _loader(data_dir, clock)
    gex_staging.seal([gex_staging.record(timestamp=GEX_BASE_MS)])
    loader.run_once()
    clock.now += SEAL_CHECK_SECONDS  # idle long enough to release the database, seal check done
    loader.run_once()
    before = len(opened)
    for _ in range(20):  # five seconds of 250 ms polls with nothing staged
        clock.now += 0.25
        loader.run_once()
    assert len(opened) == before
    assert _lake_count(data_dir) == 1
