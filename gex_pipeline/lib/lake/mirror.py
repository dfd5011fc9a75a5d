"""Mirror the live loader's open partitions from `gex_data.db` to the lake, exactly once by key.

The live loader commits each micro-batch to its DuckDB file (the open partitions) and, every
`GEX_LAKE_FLUSH_SECONDS`, hands the lake what it committed since its previous pass
(`lib/live/lake_sync.py`). A pass here compares candidates with the lake: rows whose load time is
at or after the previous pass, minus a margin (`since`), or every row of the open partitions
(`since=None`: the first pass after a start, a seal). They are anti-joined with the lake's rows
of the same partitions on the table's natural key, within the candidates' key range (timestamps)
or load-time range, so a pass reads only the newest files. Partitions that were sealed once
(`sealed_partitions`) are compared whole: rows arriving late for them are still deduplicated
against everything the lake holds. Strike rows go before their snapshots: a snapshot in the lake
means its strike rows are there. A pass repeated after a crash, or over rows already mirrored,
commits nothing.

How the rows go in depends on who writes the lake (`Lake.shared`, decided in `mirror_table`):
- a local lake has one writer of its open partitions, this host's live loader (a batch job claims
  a partition first): the new rows are appended;
- a lake shared by several hosts (`GEX_LAKE_URI`) is written by every host's loader: the rows are
  inserted with a MERGE on the key, conflict-checked against the other writers of those
  partitions (`merge.py`), so no key is inserted twice, and what a host may insert when another
  host's content of a key came first is decided in `arbitration.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake import arbitration
from gex_pipeline.lib.lake.merge import insert_absent
from gex_pipeline.lib.lake.reads import register
from gex_pipeline.lib.lake.tables import (
    FEED_COLUMN,
    LIVE_TABLES,
    SPECS,
    Lake,
    Partition,
    TableCache,
    lake_schema,
)
from gex_pipeline.lib.lake.writes import append, lake_rows

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

MIRROR_WRITER = "live-loader"
# Rows loaded this long before the previous pass are looked at again (clock steps, slow commits).
MARGIN = timedelta(seconds=60)
_TIMESTAMP_KEYED = ("gex_snapshots", "gex_strikes", "gex_events")


@dataclass
class MirrorReport:
    """Rows inserted into each lake table by one pass, and the partitions they went to."""

    appended: dict[str, int] = field(default_factory=dict)
    touched: set[tuple[str, Partition]] = field(default_factory=set)

    @property
    def rows(self) -> int:
        """Rows inserted over all tables."""
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


def partitions_of(con: duckdb.DuckDBPyConnection, table: str, by_feed: bool) -> list[Partition]:
    """The partitions the rows of DuckDB table or view `table` belong to."""
    columns = "trade_date, ticker || '.' || endpoint" if by_feed else "trade_date"
    rows = con.execute(f"SELECT DISTINCT {columns} FROM {table}").fetchall()
    return [Partition(r[0], r[1] if by_feed else None) for r in rows]


def _sealed(con: duckdb.DuckDBPyConnection, partitions: list[Partition]) -> set[Partition]:
    rows = con.execute("SELECT trade_date, feed FROM sealed_partitions").fetchall()
    sealed = {Partition(r[0], r[1] or None) for r in rows}
    return {p for p in partitions if p in sealed}


def _lake_key_range(
    con: duckdb.DuckDBPyConnection, name: str, candidates: str, *, whole: bool = False
) -> tuple[str, dict[str, tuple[object, object]] | None]:
    """The candidates' key range (timestamps) or, unless `whole`, load-time range: a WHERE clause
    over the lake's rows, and the same range to pick the lake files whose statistics overlap it.
    Load times are one host's clock: in a shared lake another host's rows of the same keys may be
    older, so those tables are compared `whole` there."""
    if name in _TIMESTAMP_KEYED:
        lo, hi = con.execute(f"SELECT min(timestamp), max(timestamp) FROM {candidates}").fetchall()[
            0
        ]
        return f"timestamp BETWEEN {int(lo)} AND {int(hi)}", {"timestamp": (int(lo), int(hi))}
    recency = SPECS[name].recency
    if whole or recency is None:
        return "TRUE", None
    first = con.execute(f"SELECT min({recency}) FROM {candidates}").fetchall()[0][0] - MARGIN
    return f"{recency} >= TIMESTAMPTZ '{first.isoformat()}'", {str(recency): (first, None)}


def _lake_filter(
    con: duckdb.DuckDBPyConnection,
    name: str,
    candidates: str,
    parts: list[Partition],
    *,
    whole: bool = False,
) -> tuple[str, dict[str, tuple[object, object]] | None]:
    """The WHERE clause over the lake's rows of the candidates' partitions a pass compares with,
    and the ranges that pick their files. A partition sealed once is compared whole (its rows may
    be anywhere in its files)."""
    sealed = _sealed(con, parts)
    ranged, ranges = _lake_key_range(con, name, candidates, whole=whole)
    whole_parts = " OR ".join(f"({p.sql()})" for p in sealed)
    if not whole_parts:
        return ranged, ranges
    return f"({ranged}) OR ({whole_parts})", None


def _append_absent(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    name: str,
    candidates: str,
    parts: list[Partition],
    *,
    in_memory: bool,
    writer: str,
    cache: TableCache,
) -> int:
    """Append the candidates whose key the lake lacks (the lake's only writer: a blind append);
    `in_memory`: a few seconds of rows, computed once, else counted, then streamed (bounded
    memory). Returns how many."""
    keys = ", ".join(SPECS[name].key)
    lake_filter, ranges = _lake_filter(con, name, candidates, parts)
    register(con, "__lake_keys", cache.get(name), name, parts, ranges=ranges)
    try:
        new = (
            f"SELECT c.* FROM {candidates} c ANTI JOIN"
            f" (SELECT DISTINCT trade_date, {keys} FROM __lake_keys WHERE {lake_filter}) k"
            f" USING (trade_date, {keys})"
        )
        target = cache.ensure(name)
        if in_memory:
            rows = lake_rows(con, name, new).read_all()
            count = rows.num_rows
            if count:
                append(lake, name, rows, writer=writer, partitions=parts, table=target)
        else:
            count = int(con.execute(f"SELECT count(*) FROM ({new})").fetchall()[0][0])
            if count:
                stream = lake_rows(con, name, new)
                append(lake, name, stream, writer=writer, partitions=parts, table=target)
    finally:
        con.execute("DROP VIEW IF EXISTS __lake_keys")
    return count


def _read_kept(
    con: duckdb.DuckDBPyConnection,
    cache: TableCache,
    name: str,
    candidates: str,
    parts: list[Partition],
    *,
    whole: bool = False,
) -> str:
    """Read the keys (and content hashes) the lake holds in the candidates' partitions into the
    temp table `__mirror_kept` (see `_lake_filter`)."""
    spec = SPECS[name]
    whole = whole or name in arbitration.LOST_ROWS
    lake_filter, ranges = _lake_filter(con, name, candidates, parts, whole=whole)
    register(con, "__lake_keys", cache.get(name), name, parts, ranges=ranges)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __mirror_kept AS SELECT DISTINCT trade_date,"
            f" {', '.join(spec.key)}{arbitration.lake_columns(name)}"
            f" FROM __lake_keys WHERE {lake_filter}"
        )
    finally:
        con.execute("DROP VIEW IF EXISTS __lake_keys")
    return "__mirror_kept"


def _insert_arbitrated(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    name: str,
    candidates: str,
    parts: list[Partition],
    *,
    writer: str,
    cache: TableCache,
) -> int:
    """Insert the candidates that the lake lacks and this host may commit (`arbitration.py`),
    conflict-checked against the other hosts (`merge.py`); note the ones that lost. Returns how
    many were inserted."""
    keys = ", ".join(SPECS[name].key)
    try:
        kept = _read_kept(con, cache, name, candidates, parts)
        new = f"SELECT c.* FROM {candidates} c ANTI JOIN {kept} k USING (trade_date, {keys})"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __mirror_new AS {arbitration.admit(con, cache, name, new)}"
        )
        count = int(con.execute("SELECT count(*) FROM __mirror_new").fetchall()[0][0])
        inserted = 0
        if count:
            rows = lake_rows(con, name, "SELECT * FROM __mirror_new").read_all()
            inserted = insert_absent(cache, name, rows, writer=writer, partitions=parts)
            if inserted < count:  # another writer committed some of these keys meanwhile
                kept = _read_kept(con, cache, name, candidates, parts, whole=True)
            elif name == "gex_strikes":
                arbitration.note_strikes_written(con, "SELECT * FROM __mirror_new")
        arbitration.note_lost(con, lake, name, candidates, kept)
    finally:
        con.execute("DROP TABLE IF EXISTS __mirror_new")
        con.execute("DROP TABLE IF EXISTS __mirror_kept")
    return inserted


@contextmanager
def _local_rows(
    con: duckdb.DuckDBPyConnection,
    name: str,
    since: datetime | None,
    only: str | None,
    span: tuple[int, int] | None,
    buffered: Sequence[pa.Table] | None,
) -> Iterator[str]:
    """SQL over the rows of DuckDB table `name` a pass looks at: `buffered` (registered with
    the connection for the pass; no rows when empty) or those `_candidate_sql` selects."""
    if buffered is None:
        yield _candidate_sql(name, since, only, span)
        return
    if not buffered:
        yield f"SELECT * FROM {name} WHERE false"
        return
    import pyarrow as pa

    view = f"__buffered_{name}"
    con.register(view, pa.concat_tables(buffered))
    try:
        yield f"SELECT * FROM {view}"
    finally:
        con.unregister(view)


def lake_table(name: str, pieces: Sequence[pa.Table]) -> pa.Table:
    """Rows returned by a DuckDB INSERT of table `name`, in the lake table's schema (`feed`
    added, timestamps in UTC)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = pa.concat_tables(pieces)
    schema = lake_schema(name)
    if SPECS[name].by_feed:
        feed = pc.binary_join_element_wise(rows["ticker"], rows["endpoint"], ".")
        rows = rows.append_column(FEED_COLUMN, feed)
    return rows.select(schema.names).cast(schema)


def _row_partitions(name: str, rows: pa.Table) -> list[Partition]:
    """The partitions of lake rows `rows` of table `name`."""
    import pyarrow.compute as pc

    by_feed = SPECS[name].by_feed
    columns = ["trade_date", FEED_COLUMN] if by_feed else ["trade_date"]
    keys = pc.unique(
        pc.binary_join_element_wise(*(pc.cast(rows[c], "string") for c in columns), "|")
        if by_feed
        else pc.cast(rows["trade_date"], "string")
    ).to_pylist()
    found = []
    for key in keys:
        day, _, feed = str(key).partition("|")
        found.append(Partition(datetime.fromisoformat(day).date(), feed or None))
    return found


def _append_rows(
    lake: Lake, name: str, buffered: Sequence[pa.Table], *, writer: str, cache: TableCache
) -> tuple[int, list[Partition]]:
    """Append rows the live loader inserted into DuckDB table `name` as they are, no query."""
    if not buffered:
        return 0, []
    rows = lake_table(name, buffered)
    parts = _row_partitions(name, rows)
    target = cache.ensure(name)
    append(lake, name, rows, writer=writer, partitions=parts, table=target, transient=True)
    return rows.num_rows, parts


def mirror_table(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    name: str,
    *,
    since: datetime | None,
    only: str | None = None,
    span: tuple[int, int] | None = None,
    writer: str = MIRROR_WRITER,
    cache: TableCache,
    buffered: Sequence[pa.Table] | None = None,
) -> tuple[int, list[Partition]]:
    """Commit the candidates of table `name` that the lake lacks: the rows of `gex_data.db` the
    pass looks at or, with `buffered`, the rows the live loader's batches inserted into it since
    its previous pass (DuckDB's RETURNING rows). The one place that picks how (module
    docstring): in a lake several hosts share (`Lake.shared`) conflict-checked and arbitrated;
    in a local lake appended, buffered rows without a query (each was inserted once, by its only
    writer). Returns how many rows went in, and the partitions of the candidates."""
    shared = lake.shared
    if buffered is not None and not shared:
        return _append_rows(lake, name, buffered, writer=writer, cache=cache)
    candidates = f"__mirror_{name}"
    with _local_rows(con, name, since, only, span, buffered) as local:
        source = arbitration.candidates(lake, name, local) if shared else local
        con.execute(f"CREATE OR REPLACE TEMP VIEW {candidates} AS {source}")
        try:
            parts = partitions_of(con, candidates, SPECS[name].by_feed)
            if not parts:
                return 0, []
            if shared:
                count = _insert_arbitrated(
                    con, lake, name, candidates, parts, writer=writer, cache=cache
                )
            else:
                count = _append_absent(
                    con,
                    lake,
                    name,
                    candidates,
                    parts,
                    in_memory=since is not None,
                    writer=writer,
                    cache=cache,
                )
        finally:
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
    buffer: Mapping[str, Sequence[pa.Table]] | None = None,
) -> MirrorReport:
    """One pass over `tables` (strikes first, see the module docstring); `only` restricts it to
    one partition. `cache`: the caller's open tables (else opened once for this pass). `buffer`:
    the rows the live loader's batches inserted since its previous pass, by table, which are then
    the candidates (`since` and `only` unused)."""
    cache = cache if cache is not None else TableCache(lake)
    report = MirrorReport()
    names = [n for n in LIVE_TABLES if n in set(tables)]
    if lake.shared:  # the arbitration's temp tables serve conflict-checked commits only
        arbitration.begin(con)
    try:
        for name in names:
            clause = only.for_table(SPECS[name]).sql() if only else None
            span = None
            if name == "gex_strikes" and since is not None and buffer is None:
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
            buffered = None if buffer is None else buffer.get(name, ())
            count, parts = mirror_table(
                con, lake, name, since=since, only=clause, span=span, cache=cache, buffered=buffered
            )
            report.appended[name] = count
            if count:
                report.touched.update((name, p) for p in parts)
    finally:
        con.execute("DROP TABLE IF EXISTS __mirror_snapshot_keys")
        if lake.shared:
            arbitration.end(con)
    return report
