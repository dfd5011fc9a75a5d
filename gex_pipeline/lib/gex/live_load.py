"""The `gex` stream's part of the live micro-batch (`lib/live/microbatch.py`): its SQL.

One transaction per batch: DuckDB parses the segments (`read_json` with an explicit schema), the
first arrival of every natural key wins (segment seq, then line), records already stored are
told apart as duplicates (same content hash: the record's `content_hash`, computed by the API, or
`CONTENT_HASH_SQL` for records staged without one) or conflicts (different content, kept in
`gex_conflicts`), new rows are inserted and the segments are recorded in `loaded_segments`.
A retry after a crash at any point finds either nothing committed (and loads again) or the
segments recorded (and loads nothing), so the tables end up the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import ENDPOINTS, trade_date_sql
from gex_pipeline.lib.gex.partition_figures import add_new_snapshots
from gex_pipeline.lib.live.microbatch import (
    BatchReport,
    Inserted,
    StagingRecordError,
    load_batch,
    raise_first_invalid,
    read_json_sql,
    set_insertion_order,
    setting,
    sql_string,
)
from gex_pipeline.lib.payloads.gex import CONTENT_FIELDS
from gex_pipeline.lib.staging.layout import GEX_STREAM
from gex_pipeline.lib.staging.reader import Segment

if TYPE_CHECKING:
    import duckdb

LIVE_SOURCE = "live"
# Strike rows worth a thread of their own when inserting (fewer: one slice, no UNION overhead).
STRIKE_ROWS_PER_SLICE = 20_000
KINDS: tuple[str, ...] = ("snapshot", "majors", "maxchange")

RECORD_COLUMNS: dict[str, str] = {
    "id": "VARCHAR",
    "received_at": "BIGINT",
    "ticker": "VARCHAR",
    "endpoint": "VARCHAR",
    "kind": "VARCHAR",
    "timestamp": "BIGINT",
    "spot": "DOUBLE",
    "zero_gamma": "DOUBLE",
    "sum_gex_vol": "DOUBLE",
    "sum_gex_oi": "DOUBLE",
    "major_pos_vol": "DOUBLE",
    "major_neg_vol": "DOUBLE",
    "major_pos_oi": "DOUBLE",
    "major_neg_oi": "DOUBLE",
    "min_dte": "INTEGER",
    "sec_min_dte": "INTEGER",
    "delta_risk_reversal": "DOUBLE",
    "max_priors": "DOUBLE[][]",
    "max_change": "JSON",
    "strikes": "JSON",
    "extra": "JSON",
}
# What `_stage_batch` reads: the record plus the content hash the API adds (NULL when absent).
STAGED_COLUMNS: dict[str, str] = {**RECORD_COLUMNS, "content_hash": "VARCHAR"}

# The content of a record: everything but its key, its identity (id, received_at) and `extra`.
CONTENT_COLUMNS: tuple[str, ...] = CONTENT_FIELDS

CONTENT_STRUCT_SQL = "struct_pack(" + ", ".join(f"{c} := {c}" for c in CONTENT_COLUMNS) + ")"
# The hash of records staged before the API computed one (older segments still load).
CONTENT_HASH_SQL = f"md5(CAST({CONTENT_STRUCT_SQL} AS VARCHAR))"


__all__ = ["StagingRecordError", "load_segments"]


@dataclass(frozen=True)
class PartitionStats:
    """What one batch did to one date x feed partition."""

    trade_date: date
    ticker: str
    endpoint: str
    snapshots_added: int
    strikes_added: int
    events_added: int
    duplicates: int
    conflicts: int
    first_timestamp: int
    last_timestamp: int


def partition_of(stats: PartitionStats) -> tuple[date, str, str]:
    """`(trade_date, ticker, endpoint)` of a partition's figures."""
    return (stats.trade_date, stats.ticker, stats.endpoint)


def _stage_batch(con: duckdb.DuckDBPyConnection, segments: Sequence[Segment], source: str) -> None:
    """Parse the segments once (`batch_raw`), classify every record (`batch_status`) and expose
    both joined as the temp view `batch_records`."""
    paths = [str(s.path) for s in segments]
    # One pass over the files; batch_raw keeps their order (given by seq) and their line order,
    # so its rowid is the arrival order.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE batch_raw AS
        WITH parsed AS (
            SELECT * REPLACE (coalesce(content_hash, {CONTENT_HASH_SQL}) AS content_hash),
                   parse_filename(filename) AS segment,
                   {trade_date_sql("timestamp")} AS trade_date,
                   json_transform(strikes, '[["DOUBLE"]]') AS strike_rows
            FROM {read_json_sql(paths, STAGED_COLUMNS)}
        ),
        keyed AS (
            SELECT *, list_transform(strike_rows, lambda x: x[1]) AS strike_keys FROM parsed
        )
        SELECT * EXCLUDE (filename, strike_keys),
               coalesce(list_unique(strike_keys), 0) AS strike_count,
               coalesce(len(strike_keys) - list_count(strike_keys), 0) AS null_strikes
        FROM keyed
        """
    )
    _validate_batch(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE batch_status AS
        WITH ranked AS (
            SELECT rowid AS ord, ticker, endpoint, kind, timestamp, content_hash,
                   row_number() OVER (PARTITION BY segment ORDER BY rowid) AS line,
                   row_number() OVER key_window AS arrival,
                   first_value(content_hash) OVER key_window AS winner_hash
            FROM batch_raw
            WINDOW key_window AS (
                PARTITION BY ticker, endpoint, kind, timestamp ORDER BY rowid
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            )
        ),
        -- a semi join's keys need no DISTINCT (each stored row matches once)
        batch_keys AS (SELECT ticker, endpoint, kind, timestamp FROM batch_raw),
        stored AS (
            SELECT s.ticker, s.endpoint, 'snapshot' AS kind, s.timestamp, s.content_hash
            FROM gex_snapshots s SEMI JOIN batch_keys k
              ON k.kind = 'snapshot' AND s.ticker = k.ticker AND s.endpoint = k.endpoint
             AND s.timestamp = k.timestamp
            UNION ALL
            SELECT e.ticker, e.endpoint, e.kind, e.timestamp, e.content_hash
            FROM gex_events e SEMI JOIN batch_keys k
              ON e.kind = k.kind AND e.ticker = k.ticker AND e.endpoint = k.endpoint
             AND e.timestamp = k.timestamp
        )
        SELECT r.ord, r.line,
               coalesce(st.content_hash, r.winner_hash) AS kept_hash,
               CASE
                   WHEN st.ticker IS NULL AND r.arrival = 1 THEN 'new'
                   WHEN r.content_hash IS NOT DISTINCT FROM
                        (CASE WHEN st.ticker IS NULL THEN r.winner_hash ELSE st.content_hash END)
                   THEN 'duplicate'
                   ELSE 'conflict'
               END AS status
        FROM ranked r
        LEFT JOIN stored st
          ON st.ticker = r.ticker AND st.endpoint = r.endpoint AND st.kind = r.kind
         AND st.timestamp = r.timestamp
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW batch_records AS
        SELECT r.*, s.ord, s.line, s.kept_hash, s.status, {sql_string(source)} AS source,
               r.strike_count < len(r.strike_rows) AS has_duplicate_strikes
        FROM batch_raw r JOIN batch_status s ON r.rowid = s.ord
        """
    )


def _validate_batch(con: duckdb.DuckDBPyConnection) -> None:
    """Raise StagingRecordError for the first record of `batch_raw` that breaks the contract."""
    endpoints = ", ".join(sql_string(e) for e in ENDPOINTS)
    kinds = ", ".join(sql_string(k) for k in KINDS)
    raise_first_invalid(
        con,
        "batch_raw",
        f"""CASE
            WHEN ticker IS NULL OR NOT regexp_full_match(ticker, '[A-Z0-9_]{{1,16}}') THEN 'ticker'
            WHEN endpoint IS NULL OR endpoint NOT IN ({endpoints}) THEN 'endpoint'
            WHEN kind IS NULL OR kind NOT IN ({kinds}) THEN 'kind'
            WHEN timestamp IS NULL THEN 'timestamp'
            WHEN NOT regexp_full_match(content_hash, '[0-9a-f]{{32}}') THEN 'content_hash'
            WHEN strikes IS NOT NULL AND strike_rows IS NULL THEN 'strikes'
            WHEN null_strikes > 0 THEN 'strikes'
        END""",
    )


def _strikes_select(part: int, parts: int) -> str:
    """Strike rows of the new snapshots whose `batch_raw` rowid is `part` modulo `parts`.

    Typed in bulk by json_transform (the priors list is NULL in the scalar transform and the
    scalars NULL in the list transform); the first row per strike wins.
    """
    return f"""
        SELECT ticker, endpoint, timestamp, trade_date, row[1], row[2], row[3], priors[4]
        FROM (
            SELECT ticker, endpoint, timestamp, trade_date, strike_rows, has_duplicate_strikes,
                   unnest(strike_rows) AS row,
                   unnest(json_transform(strikes, '[[["DOUBLE"]]]')) AS priors,
                   generate_subscripts(strike_rows, 1) AS i
            FROM batch_records
            WHERE status = 'new' AND kind = 'snapshot' AND ord % {parts} = {part}
        )
        WHERE NOT has_duplicate_strikes
           OR list_position(list_transform(strike_rows, lambda x: x[1]), row[1]) = i
        """


@dataclass(frozen=True)
class _NewRows:
    """What the staged batch adds: new snapshots and their strike rows, new events, conflicts."""

    snapshots: int
    strike_rows: int
    events: int
    conflicts: int


def _new_rows(con: duckdb.DuckDBPyConnection) -> _NewRows:
    """Count what the staged batch adds (one read; an INSERT of nothing costs as much to plan)."""
    row = con.execute(
        """
        SELECT count(*) FILTER (WHERE status = 'new' AND kind = 'snapshot'),
               coalesce(sum(strike_count) FILTER (WHERE status = 'new' AND kind = 'snapshot'), 0),
               count(*) FILTER (WHERE status = 'new' AND kind <> 'snapshot'),
               count(*) FILTER (WHERE status = 'conflict')
        FROM batch_records
        """
    ).fetchall()[0]
    return _NewRows(*row)


def _insert_strikes(con: duckdb.DuckDBPyConnection, inserted: Inserted, rows: int) -> None:
    """Insert the `rows` strike rows of the new snapshots into `gex_strikes`, one slice per
    thread.

    `batch_raw` holds a few thousand records, one row group, which DuckDB scans on one thread;
    a UNION ALL of one slice per thread, without preserving insertion order (`gex_strikes` has
    none), types, unnests and writes the slices in parallel. A batch too small for two slices is
    one plain INSERT. The caller restores the setting.
    """
    if rows < 2 * STRIKE_ROWS_PER_SLICE:
        inserted("gex_strikes", f"INSERT INTO gex_strikes {_strikes_select(0, 1)}")
        return
    parts = min(int(setting(con, "threads")), rows // STRIKE_ROWS_PER_SLICE)
    union = " UNION ALL ".join(_strikes_select(part, parts) for part in range(parts))
    set_insertion_order(con, preserve=False)
    inserted("gex_strikes", f"INSERT INTO gex_strikes {union}")
    set_insertion_order(con, preserve=True)


def _insert_batch(con: duckdb.DuckDBPyConnection, inserted: Inserted) -> None:
    """Insert the batch's new rows, each table only when the batch adds some to it."""
    new = _new_rows(con)
    if new.snapshots:
        _insert_strikes(con, inserted, new.strike_rows)
        inserted(
            "gex_snapshots",
            """
            INSERT INTO gex_snapshots
            SELECT ticker, endpoint, timestamp, trade_date, spot, zero_gamma, sum_gex_vol,
                   sum_gex_oi, major_pos_vol, major_neg_vol, major_pos_oi, major_neg_oi, min_dte,
                   sec_min_dte, delta_risk_reversal, max_priors, max_change, extra, strike_count,
                   content_hash, source, now(), id
            FROM batch_records
            WHERE status = 'new' AND kind = 'snapshot'
            """,
        )
    if new.events:
        inserted(
            "gex_events",
            f"""
            INSERT INTO gex_events
            SELECT ticker, endpoint, kind, timestamp, trade_date, to_json({CONTENT_STRUCT_SQL}),
                   content_hash, source, now(), id
            FROM batch_records WHERE status = 'new' AND kind <> 'snapshot'
            """,
        )
    if new.conflicts:
        inserted(
            "gex_conflicts",
            f"""
            INSERT INTO gex_conflicts
            SELECT ticker, endpoint, kind, timestamp, trade_date, content_hash, kept_hash, id,
                   source, segment, line, to_json({CONTENT_STRUCT_SQL}), now()
            FROM batch_records WHERE status = 'conflict'
            """,
        )
    if new.snapshots:
        add_new_snapshots(
            con,
            "SELECT r.ticker, r.endpoint, r.trade_date, r.timestamp"
            " FROM batch_raw r JOIN batch_status s ON r.rowid = s.ord"
            " WHERE s.status = 'new' AND r.kind = 'snapshot'",
            "SELECT min(timestamp), max(timestamp) FROM batch_raw",
        )


_STATS_COLUMNS = (
    "trade_date, ticker, endpoint, snapshots_added, strikes_added, events_added, duplicates,"
    " conflicts, first_timestamp, last_timestamp"
)


@dataclass(frozen=True)
class GexStreamLoad:
    """The `gex` stream for `lib.live.microbatch`: snapshots, strikes, events and conflicts."""

    source: str = LIVE_SOURCE
    stream: str = GEX_STREAM
    records: str = "batch_records"
    temp_views: tuple[str, ...] = ("batch_records",)
    temp_tables: tuple[str, ...] = ("batch_raw", "batch_status")
    stats_table: str = "loaded_partitions"
    stats_columns: str = _STATS_COLUMNS
    stats_order: str = "batch, trade_date, ticker, endpoint"
    stats_type: Callable[..., PartitionStats] = PartitionStats

    def stage(self, con: duckdb.DuckDBPyConnection, segments: Sequence[Segment]) -> None:
        _stage_batch(con, segments, self.source)

    def insert(self, con: duckdb.DuckDBPyConnection, inserted: Inserted) -> None:
        _insert_batch(con, inserted)

    def stats_select(self) -> str:
        return """
            SELECT b.trade_date, b.ticker, b.endpoint,
                   count(*) FILTER (WHERE status = 'new' AND kind = 'snapshot'),
                   coalesce(sum(strike_count)
                            FILTER (WHERE status = 'new' AND kind = 'snapshot'), 0),
                   count(*) FILTER (WHERE status = 'new' AND kind <> 'snapshot'),
                   count(*) FILTER (WHERE status = 'duplicate'),
                   count(*) FILTER (WHERE status = 'conflict'),
                   min(b.timestamp), max(b.timestamp)
            FROM batch_records b
            GROUP BY b.trade_date, b.ticker, b.endpoint
        """


def load_segments(
    con: duckdb.DuckDBPyConnection,
    segments: Sequence[Segment],
    *,
    source: str = LIVE_SOURCE,
    run_id: str | None = None,
) -> BatchReport[PartitionStats]:
    """Load the records of `segments` (oldest first) into the GEX tables in one transaction.

    Segments already recorded in `loaded_segments` are not loaded again; the stats of the batches
    that loaded them are returned again (a crash between commit and reporting loses no report).
    """
    return load_batch(con, GexStreamLoad(source), segments, run_id)
