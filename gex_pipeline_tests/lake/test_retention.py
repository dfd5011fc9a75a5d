"""Retention of the lake: checkpoints carry only recent file removals, the daily vacuum keeps what
going back before a replace needs (and deletes it after the retention), and existing tables get
the current table properties."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from gex_pipeline.lib.lake.maintenance import VACUUM_WRITER, vacuum_lake
from gex_pipeline.lib.lake.tables import (
    SPECS,
    TABLE_CONFIGURATION,
    Lake,
    Partition,
    lake_schema,
)
from gex_pipeline.lib.lake.writes import append, replace

NAME = "gex_events"
SPX = Partition(date(2025, 11, 14), "SPX.gex")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def _rows(partition: Partition, n: int) -> pa.Table:
    schema = lake_schema(NAME)
    columns = {
        f.name: pa.array([partition.trade_date] * n, f.type)
        if f.name == "trade_date"
        else pa.array([partition.feed] * n, f.type)
        if f.name == "feed"
        else pa.nulls(n, f.type)
        for f in schema
    }
    return pa.table(columns, schema=schema)


def _count(table: DeltaTable) -> int:
    return sum(pq.read_metadata(uri.removeprefix("file://")).num_rows for uri in table.file_uris())


def _data_files(lake: Lake) -> set[str]:
    root = lake.local_path(NAME)
    assert root is not None
    return {
        str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts
    }


def _age(lake: Lake, relative: set[str], seconds_ago: float) -> None:
    root = lake.local_path(NAME)
    assert root is not None
    for rel in relative:
        os.utime(root / rel, (time.time() - seconds_ago, time.time() - seconds_ago))


def _live_passes_and_roll_up(lake: Lake, passes: int) -> DeltaTable:
    """What the live loader does to a partition: a small file per pass, merged by the roll-up."""
    table = lake.ensure(NAME)
    for _ in range(passes):
        table.update_incremental()
        append(lake, NAME, _rows(SPX, 1), writer="t", partitions=[SPX], table=table, transient=True)
    table.update_incremental()
    table.optimize.compact(partition_filters=SPX.filters())  # type: ignore[arg-type]
    return DeltaTable(lake.uri(NAME))


def _checkpoint_removes(lake: Lake) -> int:
    log = lake.local_path(NAME) / "_delta_log"  # type: ignore[operator]
    newest = sorted(log.glob("*.checkpoint.parquet"))[-1]
    return sum(
        r is not None for r in pq.read_table(newest, columns=["remove"])["remove"].to_pylist()
    )


def _age_removals(lake: Lake, minutes: float) -> None:
    """Make every removal of the log `minutes` old (what a checkpoint decides its expiry by)."""
    log = lake.local_path(NAME) / "_delta_log"  # type: ignore[operator]
    stamp = int((time.time() - minutes * 60) * 1000)
    for path in log.glob("*.json"):
        actions = [json.loads(line) for line in path.read_text().splitlines() if line]
        for action in actions:
            if "remove" in action:
                action["remove"]["deletionTimestamp"] = stamp
        path.write_text("".join(json.dumps(a) + "\n" for a in actions))


def test_a_checkpoint_carries_only_the_removals_of_the_last_minutes(lake: Lake) -> None:
    _live_passes_and_roll_up(lake, 30)
    _age_removals(lake, 20)  # a roll-up 20 minutes ago (a session makes hundreds a minute) ...
    _live_passes_and_roll_up(lake, 25)  # ... and one just now
    DeltaTable(lake.uri(NAME)).create_checkpoint()
    assert _checkpoint_removes(lake) == 25 + 1  # (the second merged the first's file too)


def test_maintenance_gives_existing_tables_the_current_properties(lake: Lake) -> None:
    old = TABLE_CONFIGURATION | {"delta.deletedFileRetentionDuration": "interval 7 days"}
    DeltaTable.create(lake.uri(NAME), schema=lake_schema(NAME), partition_by=list(SPECS[NAME].partition_by),
                      configuration=old)  # fmt: skip
    vacuum_lake(lake, retention_days=30)
    table = lake.open(NAME)
    assert table is not None
    assert table.metadata().configuration == lake.configuration()
    changes = [c for c in table.history() if c["operation"] == "SET TBLPROPERTIES"]
    assert len(changes) == 1 and changes[0]["gex.writer"] == VACUUM_WRITER
    vacuum_lake(lake, retention_days=30)  # nothing left to change: no commit
    table = lake.open(NAME)
    assert table is not None
    assert sum(c["operation"] == "SET TBLPROPERTIES" for c in table.history()) == 1


def test_vacuum_keeps_what_going_back_before_a_replace_reads_until_the_retention(
    lake: Lake,
) -> None:
    table = lake.ensure(NAME)
    append(lake, NAME, _rows(SPX, 3), writer="import", partitions=[SPX], table=table)
    imported = _data_files(lake)
    _age(lake, imported, 10 * 86400)  # imported long ago ...
    table = replace(lake, NAME, SPX, _rows(SPX, 1), writer="rebuild")  # ... replaced now
    before = table.version() - 1
    replaced = _data_files(lake)
    table = _live_passes_and_roll_up(lake, 25)  # a session's small files, merged
    merged = _data_files(lake) - replaced
    _age(lake, merged, 2 * 86400)  # written and merged two days ago: nothing reads them
    _age_removals(lake, 2 * 24 * 60)  # (the replace's removal too: only its commit says when)
    table = DeltaTable(lake.uri(NAME))
    root = lake.local_path(NAME)
    assert root is not None
    current = {str(Path(u.removeprefix("file://")).relative_to(root)) for u in table.file_uris()}
    stray = {f for f in merged if f not in current}
    assert len(stray) == 25  # (the replace's file was merged too)
    in_flight = "trade_date=2025-11-14/feed=SPX.gex/part-in-flight.parquet"
    pq.write_table(_rows(SPX, 1), root / in_flight)

    assert vacuum_lake(lake, retention_days=30)[NAME] == 25 + 1
    assert _data_files(lake) == imported | current | {in_flight}
    old = lake.open(NAME, before)
    assert old is not None and _count(old) == 3  # time travel before the replace reads it
    assert _count(DeltaTable(lake.uri(NAME))) == 26

    # past the retention (the replace is 31 days old), the replaced files go too
    vacuum_lake(lake, retention_days=30, now=datetime.now(UTC) + timedelta(days=31))
    assert not imported & _data_files(lake)
    assert _count(DeltaTable(lake.uri(NAME))) == 26


def test_vacuum_with_retention_zero_deletes_no_data_file(lake: Lake) -> None:
    _live_passes_and_roll_up(lake, 21)
    files = _data_files(lake)
    _age(lake, files, 40 * 86400)
    assert vacuum_lake(lake, retention_days=0) == {}
    assert _data_files(lake) == files


def test_vacuum_skips_a_replace_whose_previous_version_the_log_no_longer_has(lake: Lake) -> None:
    table = lake.ensure(NAME)
    append(lake, NAME, _rows(SPX, 3), writer="import", partitions=[SPX], table=table)
    table = replace(lake, NAME, SPX, _rows(SPX, 1), writer="rebuild")
    table.create_checkpoint()  # at the replace's version
    log = lake.local_path(NAME) / "_delta_log"  # type: ignore[operator]
    eight_days_ago = time.time() - 8 * 86400
    for path in sorted(log.glob("*.json"))[: table.version()]:  # the commits before the replace
        os.utime(path, (eight_days_ago, eight_days_ago))
    assert vacuum_lake(lake, retention_days=30)[NAME] == 0  # the log went; the replace stays
    reopened = lake.open(NAME)
    assert reopened is not None and _count(reopened) == 1
    assert lake.open(NAME, table.version()) is not None
