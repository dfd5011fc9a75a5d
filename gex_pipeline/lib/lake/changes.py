"""The history of batch replaces of each feed-day, and going back to before one of them.

Every replace of a feed-day by a batch job (history import, staging rebuild, restore) appends
one row to the lake table `gex_partition_changes`: who wrote it, and the version of each table it
replaced before and after. The state before a change stays in the lake's history (time travel)
for `delta.logRetentionDuration` (7 days) unless `GEX_HISTORY_BACKUP_RETENTION_DAYS` is shorter
(`vacuum` keeps the files of the version before each replace that long: `maintenance.py`); older
states come back from a restore point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import register
from gex_pipeline.lib.lake.tables import SPECS, Lake, Partition, TableCache
from gex_pipeline.lib.lake.writes import append, empty_rows, lake_rows, replace

if TYPE_CHECKING:
    import duckdb

CHANGES_TABLE = "gex_partition_changes"


@dataclass(frozen=True)
class Change:
    """One replace of a feed-day: when, by whom, the table versions before and after it."""

    changed_at: datetime
    writer: str
    versions_before: dict[str, int]
    versions_after: dict[str, int]
    rows_after: dict[str, int]

    @property
    def stamp(self) -> str:
        """The change's UTC time as a stamp (what `gex-pipeline restore --stamp` takes)."""
        return self.changed_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def record_change(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    partition: Partition,
    writer: str,
    before: dict[str, int],
    after: dict[str, int],
    rows: dict[str, int],
    tables: TableCache | None = None,
) -> None:
    """Append one change row for `partition` (a feed-day); `tables`: the caller's open tables."""
    assert partition.feed is not None, "changes are kept for feed-days"
    ticker, _, endpoint = partition.feed.partition(".")
    query = (
        "SELECT $ticker AS ticker, $endpoint AS endpoint, $day AS trade_date, $writer AS writer,"
        " $before::JSON AS versions_before, $after::JSON AS versions_after,"
        " $rows::JSON AS rows_after, now() AS changed_at"
    )
    params = {
        "ticker": ticker,
        "endpoint": endpoint,
        "day": partition.trade_date,
        "writer": writer,
        "before": json.dumps(before, sort_keys=True),
        "after": json.dumps(after, sort_keys=True),
        "rows": json.dumps(rows, sort_keys=True),
    }
    data = lake_rows(con, CHANGES_TABLE, query, params).read_all()
    table = tables.ensure(CHANGES_TABLE) if tables is not None else None
    append(lake, CHANGES_TABLE, data, writer=writer, partitions=[partition], table=table)


def changes(lake: Lake, partition: Partition) -> list[Change]:
    """The recorded changes of a feed-day, oldest first."""
    import duckdb

    with duckdb.connect() as con:
        register(con, CHANGES_TABLE, lake.open(CHANGES_TABLE), CHANGES_TABLE, [partition])
        rows = con.execute(
            f"SELECT changed_at, writer, versions_before, versions_after, rows_after"
            f" FROM {CHANGES_TABLE} ORDER BY changed_at"
        ).fetchall()
    return [Change(r[0], r[1], json.loads(r[2]), json.loads(r[3]), json.loads(r[4])) for r in rows]


def restore_versions(
    lake: Lake, partition: Partition, versions: dict[str, int], *, writer: str
) -> dict[str, int]:
    """Make the partition of each table what it was at its version in `versions` (-1: the table
    did not exist then, the partition becomes empty); return rows per table. The caller claims the
    partition first; the replaced state stays in the lake's history."""
    import duckdb

    restored: dict[str, int] = {}
    order = list(SPECS)
    for name in sorted(versions, key=lambda n: (n != "gex_strikes", order.index(n))):
        part = partition.for_table(SPECS[name])
        version = versions[name]
        if version < 0:
            replace(lake, name, part, empty_rows(name), writer=writer)
            restored[name] = 0
            continue
        old = lake.open(name, version)
        with duckdb.connect() as con:
            register(con, name, old, name, [part], with_feed=False)
            restored[name] = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
            replace(lake, name, part, lake_rows(con, name, f"SELECT * FROM {name}"), writer=writer)
    return restored
