"""First arrival wins across hosts: what a mirror pass commits when other loaders share the lake.

Each host's loader decides first-arrival among the records it staged (`gex_data.db`); the lake
decides between hosts: the first commit of a natural key keeps it (`lib/lake/merge.py`). A
record that lost there is not dropped: it goes to the conflict table of its stream, like a
conflict found at load time, when its content differs from the kept row's (an identical one is a
duplicate and is stored nowhere). Its `segment` is `<host>/lost/<record id>` (`line` 0): the raw
record is in that host's `staging/<stream>/processed/` for the retention. Rows that belong to a
record follow it:
- strike rows are committed before their snapshot (a snapshot in the lake means its strike rows
  are there); a snapshot whose strike rows in the lake are not its own (another host's content
  of the same key committed its strike rows first) is not inserted but kept as a conflict;
- a trade (`option_trades_events`) or market state (`market_agg_state`) of a message is inserted
  only while the lake's message with that id has the same content hash.
Content is compared on `content_hash`; a row without one (stored before schema 5) is never
called lost. Rows replaced by a batch job (a history import: another `source`) are not conflicts.

One pass keeps its findings in temp tables of the loader's connection (`begin`/`end`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from gex_pipeline.lib.lake.tables import Lake, TableCache

LOST_ROWS = {"gex_conflicts": "__lost_gex_conflicts", "webhook_conflicts": "__lost_webhook_rows"}
LOST_IDS = "__lost_message_ids"
STRIKES_WRITTEN = "__strikes_written"
REFUSED = "__refused_snapshots"
_TEMP_TABLES = (*LOST_ROWS.values(), LOST_IDS, STRIKES_WRITTEN, REFUSED)
# The tables whose rows carry their content hash, and the conflict table their losers go to.
HASHED: dict[str, str] = {
    "gex_snapshots": "gex_conflicts",
    "gex_events": "gex_conflicts",
    "universal_webhooks": "webhook_conflicts",
}
# Rows of a message, by the column holding its id.
MESSAGE_ROWS: dict[str, str] = {"option_trades_events": "id", "market_agg_state": "message_id"}
_SNAPSHOT_KEY = "ticker, endpoint, trade_date, timestamp"


def begin(con: duckdb.DuckDBPyConnection) -> None:
    """Create the pass's empty temp tables."""
    for name, temp in LOST_ROWS.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {temp} AS SELECT * FROM {name} LIMIT 0")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {LOST_IDS} (trade_date DATE, id VARCHAR)")
    for temp in (STRIKES_WRITTEN, REFUSED):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {temp} (ticker VARCHAR, endpoint VARCHAR,"
            " trade_date DATE, timestamp BIGINT)"
        )


def end(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the pass's temp tables."""
    for temp in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {temp}")


def segment_prefix(lake: Lake) -> str:
    """What conflict rows' `segment` starts with in the lake: `<host>/` in a shared lake."""
    return f"{lake.host}/" if lake.host else ""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def candidates(lake: Lake, name: str, local: str) -> str:
    """The candidate rows of table `name` given those of `gex_data.db` (`local`): conflict rows
    get the host's segment prefix and this pass's lost records."""
    if name not in LOST_ROWS:
        return local
    prefix = segment_prefix(lake)
    renamed = f"SELECT * REPLACE ({_literal(prefix)} || segment AS segment) FROM ({local})"
    if not prefix:
        renamed = local
    return f"{renamed} UNION ALL BY NAME SELECT * FROM {LOST_ROWS[name]}"


def lake_columns(name: str) -> str:
    """Columns a pass reads from the lake rows of table `name` beyond its key."""
    return (
        ", content_hash, source"
        if name in ("gex_snapshots", "gex_events")
        else (", content_hash" if name == "universal_webhooks" else "")
    )


def admit(con: duckdb.DuckDBPyConnection, tables: TableCache, name: str, new: str) -> str:
    """The rows of `new` (absent from the lake) that this host may insert into table `name`."""
    if name in MESSAGE_ROWS:
        column = MESSAGE_ROWS[name]
        return (
            f"SELECT * FROM ({new}) n WHERE NOT EXISTS (SELECT 1 FROM {LOST_IDS} l"
            f" WHERE l.trade_date = n.trade_date AND l.id = n.{column})"
        )
    if name != "gex_snapshots":
        return new
    _refuse_foreign_strikes(con, tables, new)
    return f"SELECT * FROM ({new}) ANTI JOIN {REFUSED} USING ({_SNAPSHOT_KEY})"


def _refuse_foreign_strikes(con: duckdb.DuckDBPyConnection, tables: TableCache, new: str) -> None:
    """Note in `REFUSED` the new snapshots whose strike rows in the lake differ from ours (only
    those whose strike rows this pass did not write itself are looked at)."""
    from gex_pipeline.lib.gex.partition_figures import ROW_HASH
    from gex_pipeline.lib.lake.mirror import partitions_of
    from gex_pipeline.lib.lake.reads import register

    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __unchecked AS SELECT {_SNAPSHOT_KEY} FROM ({new})"
        f" ANTI JOIN {STRIKES_WRITTEN} USING ({_SNAPSHOT_KEY})"
    )
    try:
        span = con.execute("SELECT min(timestamp), max(timestamp) FROM __unchecked").fetchall()[0]
        if span[0] is None:
            return
        parts = partitions_of(con, "__unchecked", by_feed=True)
        lo, hi = int(span[0]), int(span[1])
        strikes = tables.get("gex_strikes")
        ranges = {"timestamp": (lo, hi)}  # only the files that may hold these snapshots
        register(con, "__lake_strikes", strikes, "gex_strikes", parts, ranges=ranges)
        fingerprint = f"count(*) AS n, sum({ROW_HASH}) AS h"
        con.execute(
            f"""
            INSERT INTO {REFUSED}
            WITH mine AS (
                SELECT {_SNAPSHOT_KEY}, {fingerprint} FROM gex_strikes
                SEMI JOIN __unchecked USING ({_SNAPSHOT_KEY}) GROUP BY ALL
            ),
            theirs AS (
                SELECT {_SNAPSHOT_KEY}, {fingerprint} FROM __lake_strikes
                SEMI JOIN __unchecked USING ({_SNAPSHOT_KEY})
                WHERE timestamp BETWEEN {lo} AND {hi} GROUP BY ALL
            )
            SELECT {_SNAPSHOT_KEY} FROM theirs LEFT JOIN mine USING ({_SNAPSHOT_KEY})
            WHERE mine.n IS DISTINCT FROM theirs.n OR mine.h IS DISTINCT FROM theirs.h
            """
        )
    finally:
        con.execute("DROP VIEW IF EXISTS __lake_strikes")
        con.execute("DROP TABLE IF EXISTS __unchecked")


def note_strikes_written(con: duckdb.DuckDBPyConnection, new: str) -> None:
    """Remember the snapshots whose strike rows this pass inserted, all of them."""
    con.execute(f"INSERT INTO {STRIKES_WRITTEN} SELECT DISTINCT {_SNAPSHOT_KEY} FROM ({new})")


def note_lost(con: duckdb.DuckDBPyConnection, lake: Lake, name: str, cands: str, kept: str) -> None:
    """Record the candidates (a view) of table `name` whose key the lake (`kept`: its key columns, content
    hash, source) holds with other content, and the refused snapshots, as lost."""
    if name not in HASHED:
        return
    prefix = _literal(f"{segment_prefix(lake)}lost/")
    if name == "universal_webhooks":
        con.execute(
            f"""
            INSERT INTO {LOST_ROWS["webhook_conflicts"]} BY NAME
            SELECT c.id, c.received_at, c.trade_date, c.form, c.channel, c.event, c.payload,
                   {prefix} || c.id AS segment, 0 AS line, now() AS detected_at
            FROM {cands} c JOIN {kept} k USING (trade_date, id)
            WHERE c.content_hash <> k.content_hash
            """
        )
        con.execute(
            f"INSERT INTO {LOST_IDS} SELECT trade_date, id FROM {LOST_ROWS['webhook_conflicts']}"
        )
        return
    differs = "c.content_hash <> k.content_hash AND c.source = k.source"
    if name == "gex_events":
        con.execute(
            f"""
            INSERT INTO {LOST_ROWS["gex_conflicts"]} BY NAME
            SELECT c.ticker, c.endpoint, c.kind, c.timestamp, c.trade_date, c.content_hash,
                   k.content_hash AS kept_hash, c.payload_id, c.source,
                   {prefix} || {_record_id()} AS segment, 0 AS line, c.record, now() AS detected_at
            FROM {cands} c JOIN {kept} k USING (trade_date, ticker, endpoint, kind, timestamp)
            WHERE {differs}
            """
        )
        return
    con.execute(
        f"""
        INSERT INTO {LOST_ROWS["gex_conflicts"]} BY NAME
        SELECT c.ticker, c.endpoint, 'snapshot' AS kind, c.timestamp, c.trade_date,
               c.content_hash, k.content_hash AS kept_hash, c.payload_id, c.source,
               {prefix} || {_record_id()} AS segment, 0 AS line, {_snapshot_record()} AS record,
               now() AS detected_at
        FROM {cands} c LEFT JOIN {kept} k USING (trade_date, ticker, endpoint, timestamp)
        WHERE ({differs})
           OR EXISTS (SELECT 1 FROM {REFUSED} r WHERE r.ticker = c.ticker
                      AND r.endpoint = c.endpoint AND r.timestamp = c.timestamp)
        """
    )


def _record_id() -> str:
    """The staging id of a GEX record (its key when it has none)."""
    return "coalesce(c.payload_id, c.ticker || '.' || c.endpoint || '@' || c.timestamp)"


def _snapshot_record() -> str:
    """The content of a snapshot as its conflict `record` (the staged fields, strike rows as
    `[strike, gamma, oi_gamma, priors]` by strike)."""
    from gex_pipeline.lib.gex.live_load import CONTENT_COLUMNS

    fields = [f"{c} := c.{c}" for c in CONTENT_COLUMNS if c != "strikes"]
    strikes = (
        "(SELECT to_json(list(json_array(s.strike, s.gamma, s.oi_gamma, s.priors)"
        " ORDER BY s.strike))"
        " FROM gex_strikes s WHERE s.ticker = c.ticker AND s.endpoint = c.endpoint"
        " AND s.timestamp = c.timestamp)"
    )
    return f"to_json(struct_pack({', '.join(fields)}, strikes := {strikes}))"
