"""Mirror the live loader's open partitions from `gex_data.db` to the lake, exactly once by key.

The live loader commits each micro-batch to its DuckDB file (the open partitions) and, every
`GEX_LAKE_FLUSH_SECONDS`, appends to the lake the rows committed since its previous pass that the
lake does not hold yet: the candidates (rows whose load time is at or after the previous pass,
minus a margin) are anti-joined with the lake's rows of the same partitions on the table's natural
key, within the candidates' key range (timestamps) or load-time range, so a pass reads only the
newest files. Strike rows go before their snapshots: a snapshot in the lake means its strike rows
are there. A pass repeated after a crash, or over rows already mirrored, appends nothing, so the
first pass after a start looks at every open partition (`since=None`). Partitions that were sealed
once (`sealed_partitions`) are compared whole: rows arriving late for them are still
deduplicated against everything the lake holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake.reads import register
from gex_pipeline.lib.lake.tables import LIVE_TABLES, SPECS, Lake, Partition, TableCache
from gex_pipeline.lib.lake.writes import append, lake_rows

if TYPE_CHECKING:
    import duckdb

MIRROR_WRITER = "live-loader"
# Rows loaded this long before the previous pass are looked at again (clock steps, slow commits).
MARGIN = timedelta(seconds=60)
_TIMESTAMP_KEYED = ("gex_snapshots", "gex_strikes", "gex_events")


@dataclass
class MirrorReport:
    """Rows appended to each lake table by one pass, and the partitions they went to."""

    appended: dict[str, int] = field(default_factory=dict)
    touched: set[tuple[str, Partition]] = field(default_factory=set)

    @property
    def rows(self) -> int:
        """Rows appended over all tables."""
        return sum(self.appended.values())


def _candidate_sql(
    name: str, since: datetime | None, only: str | None, span: tuple[int, int] | None = None
) -> str:
    """The rows of DuckDB table `name` a pass looks at. In a pass `since` a time, the strike rows
    are those of the snapshot candidates (`__mirror_snapshot_keys`, spanning `span` epoch ms);
    a whole pass looks at every strike row, a strike row without its snapshot included."""
    where = [only] if only else []
    if name == "gex_strikes" and since is not None:
        lo, hi = span or (0, -1)
        return (
            "SELECT s.* FROM gex_strikes s SEMI JOIN __mirror_snapshot_keys k"
            " USING (ticker, endpoint, trade_date, timestamp)"
            f" WHERE s.timestamp BETWEEN {lo} AND {hi}"
        )
    recency = SPECS[name].recency
    if since is not None and recency is not None:
        where.append(f"{recency} >= TIMESTAMPTZ '{(since - MARGIN).isoformat()}'")
    return f"SELECT * FROM {name}" + (f" WHERE {' AND '.join(where)}" if where else "")


def _partitions(con: duckdb.DuckDBPyConnection, table: str, by_feed: bool) -> list[Partition]:
    columns = "trade_date, ticker || '.' || endpoint" if by_feed else "trade_date"
    rows = con.execute(f"SELECT DISTINCT {columns} FROM {table}").fetchall()
    return [Partition(r[0], r[1] if by_feed else None) for r in rows]


def _sealed(con: duckdb.DuckDBPyConnection, partitions: list[Partition]) -> set[Partition]:
    rows = con.execute("SELECT trade_date, feed FROM sealed_partitions").fetchall()
    sealed = {Partition(r[0], r[1] or None) for r in rows}
    return {p for p in partitions if p in sealed}


def _lake_key_range(
    con: duckdb.DuckDBPyConnection, name: str, candidates: str
) -> tuple[str, dict[str, tuple[object, object]]]:
    """The candidates' key range (timestamps) or load-time range: a WHERE clause over the lake's
    rows, and the same range to pick the lake files whose statistics overlap it."""
    if name in _TIMESTAMP_KEYED:
        lo, hi = con.execute(f"SELECT min(timestamp), max(timestamp) FROM {candidates}").fetchall()[
            0
        ]
        return f"timestamp BETWEEN {int(lo)} AND {int(hi)}", {"timestamp": (int(lo), int(hi))}
    recency = SPECS[name].recency
    first = con.execute(f"SELECT min({recency}) FROM {candidates}").fetchall()[0][0] - MARGIN
    return f"{recency} >= TIMESTAMPTZ '{first.isoformat()}'", {str(recency): (first, None)}


def mirror_table(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    name: str,
    *,
    since: datetime | None,
    only: str | None = None,
    span: tuple[int, int] | None = None,
    writer: str = MIRROR_WRITER,
    cache: TableCache | None = None,
) -> tuple[int, list[Partition]]:
    """Append the candidates of table `name` that the lake lacks; return how many, and the
    partitions of the candidates."""
    spec = SPECS[name]
    candidates = f"__mirror_{name}"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {candidates} AS {_candidate_sql(name, since, only, span)}"
    )
    parts = _partitions(con, candidates, spec.by_feed)
    if not parts:
        return 0, []
    sealed = _sealed(con, parts)
    keys = ", ".join(spec.key)
    table = cache.get(name) if cache is not None else lake.open(name)
    ranged, ranges = _lake_key_range(con, name, candidates)
    # A partition sealed once is compared whole (its rows may be anywhere in its files).
    register(con, "__lake_keys", table, name, parts, ranges=None if sealed else ranges)
    try:
        whole = " OR ".join(f"({p.sql()})" for p in sealed)
        lake_filter = f"({ranged}) OR ({whole})" if whole else ranged
        new = (
            f"SELECT c.* FROM {candidates} c ANTI JOIN"
            f" (SELECT DISTINCT trade_date, {keys} FROM __lake_keys WHERE {lake_filter}) k"
            f" USING (trade_date, {keys})"
        )
        target = cache.ensure(name) if cache is not None else None
        if since is not None:  # a few seconds of rows: computed once, in memory
            rows = lake_rows(con, name, new).read_all()
            count = rows.num_rows
            if count:
                append(lake, name, rows, writer=writer, partitions=parts, table=target)
        else:  # whole partitions: counted, then streamed (bounded memory)
            count = int(con.execute(f"SELECT count(*) FROM ({new})").fetchall()[0][0])
            if count:
                stream = lake_rows(con, name, new)
                append(lake, name, stream, writer=writer, partitions=parts, table=target)
    finally:
        con.execute("DROP VIEW IF EXISTS __lake_keys")
        con.execute(f"DROP VIEW IF EXISTS {candidates}")
    return count, parts


def mirror(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    *,
    since: datetime | None,
    only: Partition | None = None,
    tables: Iterable[str] = LIVE_TABLES,
    cache: TableCache | None = None,
) -> MirrorReport:
    """One pass over `tables` (strikes first, see the module docstring); `only` restricts it to
    one partition."""
    report = MirrorReport()
    names = [n for n in LIVE_TABLES if n in set(tables)]
    try:
        for name in names:
            clause = only.for_table(SPECS[name]).sql() if only else None
            span = None
            if name == "gex_strikes" and since is not None:
                # The strike rows to look at are those of the snapshot candidates.
                snapshots = _candidate_sql("gex_snapshots", since, clause)
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE __mirror_snapshot_keys AS SELECT ticker,"
                    f" endpoint, trade_date, timestamp FROM ({snapshots})"
                )
                lo, hi = con.execute(
                    "SELECT min(timestamp), max(timestamp) FROM __mirror_snapshot_keys"
                ).fetchall()[0]
                span = (int(lo), int(hi)) if lo is not None else None
            count, parts = mirror_table(
                con, lake, name, since=since, only=clause, span=span, cache=cache
            )
            report.appended[name] = count
            if count:
                report.touched.update((name, p) for p in parts)
    finally:
        con.execute("DROP TABLE IF EXISTS __mirror_snapshot_keys")
    return report
