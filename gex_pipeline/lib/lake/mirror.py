"""Mirror the live loader's open partitions from `gex_data.db` to the lake, exactly once by key.

The live loader commits each micro-batch to its DuckDB file (the open partitions) and, every
`GEX_LAKE_FLUSH_SECONDS`, inserts into the lake the rows committed since its previous pass that the
lake does not hold yet: the candidates (rows whose load time is at or after the previous pass,
minus a margin) are anti-joined with the lake's rows of the same partitions on the table's natural
key, within the candidates' key range (timestamps) or load-time range, so a pass reads only the
newest files. The insert is a MERGE on the key, conflict-checked against the other writers of
those partitions (`merge.py`), so loaders of several hosts sharing the lake never insert a key
twice; what a host may insert when another host's content of a key came first is decided in
`arbitration.py`. Strike rows go before their snapshots: a snapshot in the lake means its strike
rows are there. A pass repeated after a crash, or over rows already mirrored, inserts nothing, so
the first pass after a start looks at every open partition (`since=None`). Partitions that were
sealed once (`sealed_partitions`) are compared whole: rows arriving late for them are still
deduplicated against everything the lake holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gex_pipeline.lib.lake import arbitration
from gex_pipeline.lib.lake.merge import insert_absent
from gex_pipeline.lib.lake.reads import register
from gex_pipeline.lib.lake.tables import LIVE_TABLES, SPECS, Lake, Partition
from gex_pipeline.lib.lake.writes import lake_rows

if TYPE_CHECKING:
    import duckdb

MIRROR_WRITER = "live-loader"
# Rows loaded this long before the previous pass are looked at again (clock steps, slow commits).
MARGIN = timedelta(seconds=60)
_TIMESTAMP_KEYED = ("gex_snapshots", "gex_strikes", "gex_events")


@dataclass
class MirrorReport:
    """Rows inserted into each lake table by one pass."""

    appended: dict[str, int] = field(default_factory=dict)

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


def partitions_of(con: duckdb.DuckDBPyConnection, table: str, by_feed: bool) -> list[Partition]:
    """The partitions the rows of DuckDB table or view `table` belong to."""
    columns = "trade_date, ticker || '.' || endpoint" if by_feed else "trade_date"
    rows = con.execute(f"SELECT DISTINCT {columns} FROM {table}").fetchall()
    return [Partition(r[0], r[1] if by_feed else None) for r in rows]


def _sealed(con: duckdb.DuckDBPyConnection, partitions: list[Partition]) -> set[Partition]:
    rows = con.execute("SELECT trade_date, feed FROM sealed_partitions").fetchall()
    sealed = {Partition(r[0], r[1] or None) for r in rows}
    return {p for p in partitions if p in sealed}


def _lake_key_filter(
    con: duckdb.DuckDBPyConnection, name: str, candidates: str, *, whole: bool
) -> str:
    """A WHERE clause restricting the lake's rows to the candidates' key range or, unless
    `whole`, load-time range (load times are one host's clock: another host's rows of the same
    keys may be older, so a commit that met them looks again with `whole`)."""
    if name in _TIMESTAMP_KEYED:
        lo, hi = con.execute(f"SELECT min(timestamp), max(timestamp) FROM {candidates}").fetchall()[
            0
        ]
        return f"timestamp BETWEEN {int(lo)} AND {int(hi)}"
    recency = SPECS[name].recency
    if whole or name in arbitration.LOST_ROWS or recency is None:
        return "TRUE"
    first = con.execute(f"SELECT min({recency}) FROM {candidates}").fetchall()[0][0]
    return f"{recency} >= TIMESTAMPTZ '{(first - MARGIN).isoformat()}'"


def _read_kept(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    name: str,
    candidates: str,
    parts: list[Partition],
    *,
    whole: bool = False,
) -> str:
    """Read the keys (and content hashes) the lake holds in the candidates' partitions into the
    temp table `__mirror_kept`: within their key or load-time range, sealed partitions whole."""
    spec = SPECS[name]
    register(con, "__lake_keys", lake.open(name), name, parts)
    try:
        whole_parts = " OR ".join(f"({p.sql()})" for p in _sealed(con, parts))
        ranged = _lake_key_filter(con, name, candidates, whole=whole)
        lake_filter = f"({ranged}) OR ({whole_parts})" if whole_parts else ranged
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __mirror_kept AS SELECT DISTINCT trade_date,"
            f" {', '.join(spec.key)}{arbitration.lake_columns(name)}"
            f" FROM __lake_keys WHERE {lake_filter}"
        )
    finally:
        con.execute("DROP VIEW IF EXISTS __lake_keys")
    return "__mirror_kept"


def mirror_table(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    name: str,
    *,
    since: datetime | None,
    only: str | None = None,
    span: tuple[int, int] | None = None,
    writer: str = MIRROR_WRITER,
) -> int:
    """Insert the candidates of table `name` that the lake lacks and this host may commit
    (`arbitration.py`), conflict-checked (`merge.py`); return how many were inserted."""
    spec = SPECS[name]
    candidates = f"__mirror_{name}"
    local = _candidate_sql(name, since, only, span)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {candidates} AS {arbitration.candidates(lake, name, local)}"
    )
    try:
        parts = partitions_of(con, candidates, spec.by_feed)
        if not parts:
            return 0
        keys = ", ".join(spec.key)
        kept = _read_kept(con, lake, name, candidates, parts)
        new = f"SELECT c.* FROM {candidates} c ANTI JOIN {kept} k USING (trade_date, {keys})"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __mirror_new AS {arbitration.admit(con, lake, name, new)}"
        )
        count = int(con.execute("SELECT count(*) FROM __mirror_new").fetchall()[0][0])
        inserted = 0
        if count:
            rows = lake_rows(con, name, "SELECT * FROM __mirror_new").read_all()
            inserted = insert_absent(lake, name, rows, writer=writer, partitions=parts)
            if inserted < count:  # another writer committed some of these keys meanwhile
                kept = _read_kept(con, lake, name, candidates, parts, whole=True)
            elif name == "gex_strikes":
                arbitration.note_strikes_written(con, "SELECT * FROM __mirror_new")
        arbitration.note_lost(con, lake, name, candidates, kept)
    finally:
        con.execute("DROP TABLE IF EXISTS __mirror_new")
        con.execute("DROP TABLE IF EXISTS __mirror_kept")
        con.execute(f"DROP VIEW IF EXISTS {candidates}")
    return inserted


def mirror(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    *,
    since: datetime | None,
    only: Partition | None = None,
    tables: Iterable[str] = LIVE_TABLES,
) -> MirrorReport:
    """One pass over `tables` (strikes first, see the module docstring); `only` restricts it to
    one partition."""
    report = MirrorReport()
    names = [n for n in LIVE_TABLES if n in set(tables)]
    arbitration.begin(con)
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
            report.appended[name] = mirror_table(
                con, lake, name, since=since, only=clause, span=span
            )
    finally:
        con.execute("DROP TABLE IF EXISTS __mirror_snapshot_keys")
        arbitration.end(con)
    return report
