"""Open partitions reach the lake exactly once (mirror) and leave gex_data.db when sealed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments
from gex_pipeline.lib.lake.mirror import mirror
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.seal import claim_partition, hot_partitions, seal, sealable
from gex_pipeline.lib.lake.tables import Lake, Partition
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

DAY = date(2025, 11, 14)
SPX = Partition(DAY, "SPX.gex_zero")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def hot(tmp_path: Path):
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        yield con


def _lake_rows(lake: Lake, query: str) -> list[tuple]:
    with connect_lake(lake) as con:
        return con.execute(query).fetchall()


def _load(hot: duckdb.DuckDBPyConnection, staging: GexStagingTree, seconds: range) -> None:
    records = [staging.record(timestamp=GEX_BASE_MS + s * 1000, spot=6700.0 + s) for s in seconds]
    load_segments(hot, [staging.seal(records)])


def test_mirror_appends_each_committed_row_once(hot, lake, gex_staging) -> None:
    _load(hot, gex_staging, range(5))
    first = mirror(hot, lake, since=None)
    again = mirror(hot, lake, since=None)
    assert first.appended["gex_snapshots"] == 5
    assert first.appended["gex_strikes"] == 15
    assert again.rows == 0
    assert _lake_rows(lake, "SELECT count(*), count(DISTINCT timestamp) FROM gex_snapshots") == [
        (5, 5)
    ]
    assert _lake_rows(lake, "SELECT count(*) FROM gex_strikes") == [(15,)]


def test_mirror_since_a_pass_only_appends_newer_rows(hot, lake, gex_staging) -> None:
    _load(hot, gex_staging, range(3))
    mirror(hot, lake, since=None)
    started = datetime.now(UTC)
    _load(hot, gex_staging, range(3, 6))
    report = mirror(hot, lake, since=started)
    assert report.appended["gex_snapshots"] == 3
    assert _lake_rows(lake, "SELECT count(*) FROM gex_snapshots") == [(6,)]


def test_lake_rows_equal_duckdb_rows(hot, lake, gex_staging) -> None:
    _load(hot, gex_staging, range(4))
    mirror(hot, lake, since=None)
    columns = "ticker, endpoint, timestamp, trade_date, strike, gamma, oi_gamma, priors"
    expected = hot.execute(f"SELECT {columns} FROM gex_strikes ORDER BY ALL").fetchall()
    assert _lake_rows(lake, f"SELECT {columns} FROM gex_strikes ORDER BY ALL") == expected


def test_seal_moves_the_partition_and_compacts_it(hot, lake, gex_staging) -> None:
    _load(hot, gex_staging, range(3))
    mirror(hot, lake, since=None)
    _load(hot, gex_staging, range(3, 6))
    mirror(hot, lake, since=None)
    assert hot_partitions(hot) == [SPX]
    done = seal(hot, lake, SPX)
    assert "gex_strikes" in done.compacted_tables
    assert hot.execute("SELECT count(*) FROM gex_snapshots").fetchall() == [(0,)]
    assert hot_partitions(hot) == []
    strikes = lake.open("gex_strikes")
    assert strikes is not None and len(strikes.file_uris()) == 1
    assert _lake_rows(lake, "SELECT count(*) FROM gex_strikes") == [(18,)]
    figures = _lake_rows(
        lake, "SELECT strike_rows, strike_key_duplicates FROM gex_partition_figures"
    )
    assert figures == [(18, 0)]


def test_rows_arriving_after_a_seal_are_not_duplicated(hot, lake, gex_staging) -> None:
    _load(hot, gex_staging, range(3))
    seal(hot, lake, SPX)
    _load(hot, gex_staging, range(2, 5))  # seconds 2 is already in the lake
    mirror(hot, lake, since=datetime.now(UTC))
    assert _lake_rows(lake, "SELECT count(*), count(DISTINCT timestamp) FROM gex_snapshots") == [
        (5, 5)
    ]


def test_sealable_are_the_open_partitions_of_past_dates(hot, gex_staging) -> None:
    _load(hot, gex_staging, range(2))
    assert sealable(hot, DAY) == []
    assert sealable(hot, date(2025, 11, 17)) == [SPX]


def test_claim_partition_seals_only_open_partitions(tmp_path, lake, gex_staging) -> None:
    db = tmp_path / "claim.db"
    with connect(db) as con:
        migrate(con)
        _load(con, gex_staging, range(2))
    assert claim_partition(db, lake, SPX) is not None
    assert claim_partition(db, lake, SPX) is None
    assert _lake_rows(lake, "SELECT count(*) FROM gex_snapshots") == [(2,)]


def test_vacuum_keeps_files_replaced_within_the_retention(hot, lake, gex_staging) -> None:
    from gex_pipeline.lib.lake.maintenance import vacuum_lake

    _load(hot, gex_staging, range(3))
    mirror(hot, lake, since=None)
    seal(hot, lake, SPX)  # compaction: the mirrored files are replaced by one
    strikes = lake.open("gex_strikes")
    assert strikes is not None
    before = strikes.version()
    assert vacuum_lake(lake, retention_days=30)["gex_strikes"] == 0
    assert lake.open("gex_strikes", before - 1) is not None  # time travel still reads them
    assert vacuum_lake(lake, retention_days=0) == {}


def test_lake_files_use_a_dictionary_for_keys_and_not_for_measures(hot, lake, gex_staging) -> None:
    import pyarrow.parquet as pq

    _load(hot, gex_staging, range(3))
    seal(hot, lake, SPX)
    strikes = lake.open("gex_strikes")
    assert strikes is not None
    (uri,) = strikes.file_uris()
    group = pq.ParquetFile(uri.removeprefix("file://")).metadata.row_group(0)
    encodings = {
        group.column(i).path_in_schema: set(group.column(i).encodings)
        for i in range(group.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["strike"]
    assert "RLE_DICTIONARY" in encodings["timestamp"]
    assert "RLE_DICTIONARY" not in encodings["gamma"]
    assert not any("RLE_DICTIONARY" in e for p, e in encodings.items() if p.startswith("priors"))


def test_expired_log_files_go_in_maintenance_not_at_each_commit(lake: Lake) -> None:
    import os
    import time

    from gex_pipeline.lib.lake.maintenance import vacuum_lake
    from gex_pipeline.lib.lake.tables import TableCache
    from gex_pipeline.lib.lake.writes import append, empty_rows

    table = TableCache(lake).ensure("gex_events")
    for _ in range(3):
        append(lake, "gex_events", empty_rows("gex_events"), writer="t", partitions=[], table=table)
    table.create_checkpoint()
    log = Path(lake.root) / "gex_events" / "_delta_log"
    old = sorted(log.glob("*.json"))[:3]  # versions 0-2, before the checkpoint
    eight_days_ago = time.time() - 8 * 86400
    for path in old:
        os.utime(path, (eight_days_ago, eight_days_ago))
    # a commit does not sweep the log (that lists every log file on each commit) ...
    append(lake, "gex_events", empty_rows("gex_events"), writer="t", partitions=[], table=table)
    assert all(p.exists() for p in old)
    # ... the daily maintenance does, whatever the data retention
    vacuum_lake(lake, retention_days=0)
    assert not any(p.exists() for p in old)
    reopened = lake.open("gex_events")
    assert reopened is not None and reopened.version() == table.version()
