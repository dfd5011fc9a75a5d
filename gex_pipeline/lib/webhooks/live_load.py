"""The `uw` stream's part of the live micro-batch (`lib/live/microbatch.py`): its SQL.

One transaction per batch: DuckDB parses the segments (`read_json` with an explicit schema) and
types the message data in bulk. Every message goes to `universal_webhooks` (unknown channels
included), keyed by its id (the trade id, or the content hash given by the ingest API); option
trades are flattened into `option_trades_events` (key: trade id, OCC symbol decoded in SQL) and
`market-state` aggregates into `market_agg_state` (key: message id, so every distinct state keeps
its row, with or without a `data.timestamp`). The first arrival of an id wins (segment seq, then
line); later ones are counted as duplicates, or, when an id comes again with different upstream
content, as conflicts kept in `webhook_conflicts`. Content is compared on the records'
`content_hash` (client annotations left out), or on the payload text when a side has none
(records staged, rows stored before it existed). Times in text are
converted by `payloads.timestamps.epoch_ms_sql`, the ingest API's rules. Numbers arrive as
strings: a present value that does not cast is stored as NULL and its field named in the row's
`cast_failures`, and counted. Segments are recorded in `loaded_segments` in the same transaction,
so a retry after a crash loads nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import trade_date_sql
from gex_pipeline.lib.live.microbatch import (
    BatchReport,
    Inserted,
    load_batch,
    raise_first_invalid,
    read_json_sql,
    sql_string,
)
from gex_pipeline.lib.payloads.occ import ROOT_UNDERLYING
from gex_pipeline.lib.payloads.timestamps import epoch_ms_sql
from gex_pipeline.lib.payloads.uw import TRADE_CHANNEL_PREFIX
from gex_pipeline.lib.staging.layout import UW_STREAM
from gex_pipeline.lib.staging.reader import Segment

if TYPE_CHECKING:
    import duckdb

MARKET_CHANNEL = "market_agg_socket"
MARKET_EVENT = "market-state"

UW_RECORD_COLUMNS: dict[str, str] = {
    "id": "VARCHAR",
    "received_at": "BIGINT",
    "form": "VARCHAR",
    "channel": "VARCHAR",
    "event": "VARCHAR",
    "join_ref": "VARCHAR",
    "ref": "VARCHAR",
    "payload": "JSON",
    "content_hash": "VARCHAR",
    "extra": "JSON",
}

# Option trade fields typed by TRY_CAST (name -> SQL type), in table order.
TRADE_NUMBERS: dict[str, str] = {
    "price": "DOUBLE",
    "size": "BIGINT",
    "premium": "DOUBLE",
    "volume": "BIGINT",
    "open_interest": "BIGINT",
    "underlying_price": "DOUBLE",
    "implied_volatility": "DOUBLE",
    "delta": "DOUBLE",
    "gamma": "DOUBLE",
    "theta": "DOUBLE",
    "vega": "DOUBLE",
    "rho": "DOUBLE",
    "theo": "DOUBLE",
    "ask_vol": "BIGINT",
    "bid_vol": "BIGINT",
    "mid_vol": "BIGINT",
    "multi_vol": "BIGINT",
    "no_side_vol": "BIGINT",
    "stock_multi_vol": "BIGINT",
    "ewma_nbbo_ask": "DOUBLE",
    "ewma_nbbo_bid": "DOUBLE",
}
TRADE_LISTS: tuple[str, ...] = ("tags", "report_flags")
TRADE_TEXT: tuple[str, ...] = ("sector", "industry_type", "issue_type")
TRADE_TYPED: dict[str, str] = {
    "marketcap": "DOUBLE",
    "next_earnings_date": "DATE",
    "is_agg": "BOOLEAN",
}
MARKET_NUMBERS: tuple[str, ...] = (
    "call_premium",
    "put_premium",
    "call_premium_otm_only",
    "put_premium_otm_only",
    "call_volume",
    "put_volume",
    "put_call_ratio",
    "delta",
    "gamma",
    "theta",
    "vega",
    "net_call_premium",
    "net_put_premium",
    "net_volume",
)
_DATA_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "id",
            "executed_at",
            "option_chain_id",
            *TRADE_NUMBERS,
            "exchange",
            *TRADE_LISTS,
            *TRADE_TEXT,
            *TRADE_TYPED,
            "upstream_condition_detail",
            "date",
            "timestamp",
            *MARKET_NUMBERS,
        )
    )
)
# Every field of `payload.data` as text (numbers, strings, or JSON text of lists and objects).
DATA_STRUCT = "{" + ", ".join(f'"{name}": "VARCHAR"' for name in _DATA_FIELDS) + "}"

OCC_PATTERN = r"^([A-Z][A-Z0-9]{0,5}) *(\d{2})(\d{2})(\d{2})([CP])(\d{8})$"
_OCC_PARTS = "['root', 'yy', 'mm', 'dd', 'kind', 'strike']"


def occ_parts_sql(symbol: str) -> str:
    """DuckDB expression: the text parts (root, yy, mm, dd, kind, strike) of an OCC symbol, all
    empty when it is not one."""
    return f"regexp_extract(upper(trim({symbol})), '{OCC_PATTERN}', {_OCC_PARTS})"


def occ_sql(parts: str) -> str:
    """DuckDB expression: STRUCT(root, underlying, expiry, option_type, strike) from the parts of
    `occ_parts_sql`, NULL when the symbol is not one (agrees with `parse_occ_symbol`)."""
    expiry = f"TRY_CAST('20' || {parts}.yy || '-' || {parts}.mm || '-' || {parts}.dd AS DATE)"
    underlying = (
        f"CASE {parts}.root "
        + " ".join(f"WHEN {sql_string(k)} THEN {sql_string(v)}" for k, v in ROOT_UNDERLYING.items())
        + f" ELSE {parts}.root END"
    )
    return (
        f"CASE WHEN {parts}.root <> '' AND {expiry} IS NOT NULL THEN struct_pack("
        f"root := {parts}.root, underlying := {underlying}, expiry := {expiry},"
        f" option_type := CASE {parts}.kind WHEN 'C' THEN 'call' ELSE 'put' END,"
        f" strike := CAST({parts}.strike AS BIGINT) / 1000) END"
    )


def _failed(name: str, present: str, typed: str) -> str:
    return f"CASE WHEN {present} IS NOT NULL AND {typed} IS NULL THEN '{name}' END"


def _failures(items: Sequence[str]) -> str:
    return f"list_filter([{', '.join(items)}], lambda x: x IS NOT NULL)"


def _text_list(name: str) -> str:
    return (
        f"CASE WHEN json_type(payload, '$.data.{name}') = 'ARRAY'"
        f" THEN json_transform(payload -> '$.data.{name}', '[\"VARCHAR\"]') END"
    )


def _trade_typed() -> str:
    """SELECT list over a `uw_batch_records` row: the record and its trade fields typed (each
    cast written once: the statement's planning grows with every expression in it)."""
    typed = [f"TRY_CAST(d.{n} AS {t}) AS {n}" for n, t in {**TRADE_NUMBERS, **TRADE_TYPED}.items()]
    # The symbol's parts bound once (a lambda parameter), not once per use in `occ_sql`.
    occ = f"list_transform([{occ_parts_sql('d.option_chain_id')}], lambda p: {occ_sql('p')})[1]"
    return f"""
        *, {occ} AS occ, {", ".join(typed)},
        {", ".join(f"{_text_list(n)} AS {n}" for n in TRADE_LISTS)}
    """


def _trade_select() -> str:
    """SELECT list of an `option_trades_events` row from a `_trade_typed` row."""
    failures = _failures(
        [
            _failed("executed_at", "d.executed_at", "executed_ms"),
            _failed("option_chain_id", "d.option_chain_id", "occ.root"),
            *(_failed(n, f"d.{n}", n) for n in TRADE_NUMBERS),
            *(_failed(n, f"d.{n}", n) for n in TRADE_LISTS),
            *(_failed(n, f"d.{n}", n) for n in TRADE_TYPED),
        ]
    )
    return f"""
        id, executed_ms, trade_date, d.option_chain_id, occ.underlying, occ.root, occ.expiry,
        occ.option_type, occ.strike, {", ".join(TRADE_NUMBERS)}, d.exchange,
        {", ".join(TRADE_LISTS)}, {", ".join(f"d.{n}" for n in TRADE_TEXT)},
        {", ".join(TRADE_TYPED)}, d.upstream_condition_detail, channel,
        {failures} AS cast_failures, now()
    """


def _market_typed() -> str:
    """SELECT list over a `uw_batch_records` row: the record and its market figures typed."""
    return "*, " + ", ".join(f"TRY_CAST(d.{n} AS DOUBLE) AS {n}" for n in MARKET_NUMBERS)


def _market_select() -> str:
    """SELECT list of a `market_agg_state` row from a `_market_typed` row."""
    failures = _failures(
        [
            _failed("date", "d.date", "TRY_CAST(d.date AS DATE)"),
            _failed("timestamp", "d.timestamp", "state_ms"),
            *(_failed(n, f"d.{n}", n) for n in MARKET_NUMBERS),
        ]
    )
    return f"""
        trade_date, market_ts, received_at, {", ".join(MARKET_NUMBERS)},
        {failures} AS cast_failures, id AS message_id, now()
    """


@dataclass(frozen=True)
class DayStats:
    """What one batch did to one trading date of the webhook tables."""

    trade_date: date
    messages_added: int
    trades_added: int
    market_added: int
    other_added: int
    duplicates: int
    conflicts: int
    cast_failures: int
    first_received_at: int
    last_received_at: int


_DAY_COLUMNS = (
    "trade_date, messages_added, trades_added, market_added, other_added, duplicates, conflicts,"
    " cast_failures, first_received_at, last_received_at"
)


def _stage_batch(con: duckdb.DuckDBPyConnection, segments: Sequence[Segment]) -> None:
    """Parse the segments once into `uw_batch_raw` (rowid = arrival order), validate them and
    classify every message in `uw_batch_records`."""
    # Both times through one lambda: the conversion is planned once, not once per field.
    times = f"list_transform([d.executed_at, d.timestamp], lambda t: {epoch_ms_sql('t', 'received_at')})"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE uw_batch_raw AS
        WITH parsed AS (
            SELECT *, parse_filename(filename) AS segment,
                   json_transform(payload -> '$.data', '{DATA_STRUCT}') AS d
            FROM {read_json_sql([str(s.path) for s in segments], UW_RECORD_COLUMNS)}
        ),
        timed AS (
            SELECT * EXCLUDE (times), times[1] AS executed_ms, times[2] AS state_ms,
                   CASE
                       WHEN starts_with(channel, '{TRADE_CHANNEL_PREFIX}')
                        AND json_type(payload, '$.data.id') = 'VARCHAR'
                        AND trim(d.id) <> '' THEN 'trade'
                       WHEN channel = '{MARKET_CHANNEL}' AND event = '{MARKET_EVENT}'
                        AND json_type(payload, '$.data') = 'OBJECT' THEN 'market'
                       ELSE 'other'
                   END AS kind
            FROM (SELECT *, {times} AS times FROM parsed)
        )
        SELECT * EXCLUDE (filename),
               coalesce({trade_date_sql("executed_ms")}, TRY_CAST(d.date AS DATE),
                        {trade_date_sql("state_ms")}, {trade_date_sql("received_at")})
                   AS trade_date,
               coalesce(state_ms, received_at) AS market_ts,
               nullif(split_part(channel, ':', 2), '') AS topic
        FROM timed
        """
    )
    _validate_batch(con)
    # The windows see only the narrow columns they need (windows over the whole record, its
    # typed `d` struct included, cost several times the rest of the statement).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE uw_batch_records AS
        WITH ranked AS (
            SELECT rowid AS ord, id, content_hash, CAST(payload AS VARCHAR) AS payload_text,
                   row_number() OVER (PARTITION BY segment ORDER BY rowid) AS line,
                   row_number() OVER by_id AS arrival,
                   first_value(content_hash) OVER by_id AS winner_hash,
                   first_value(CAST(payload AS VARCHAR)) OVER by_id AS winner_payload
            FROM uw_batch_raw
            WINDOW by_id AS (
                PARTITION BY id ORDER BY rowid
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            )
        ),
        stored AS (
            SELECT id, content_hash, CAST(payload AS VARCHAR) AS payload_text
            FROM universal_webhooks SEMI JOIN uw_batch_raw USING (id)
        ),
        compared AS (
            SELECT r.ord, r.line, r.arrival, r.content_hash, r.payload_text,
                   s.id IS NOT NULL AS stored,
                   CASE WHEN s.id IS NULL THEN r.winner_hash ELSE s.content_hash END AS first_hash,
                   CASE WHEN s.id IS NULL THEN r.winner_payload ELSE s.payload_text END
                       AS first_payload
            FROM ranked r
            LEFT JOIN stored s ON s.id = r.id
        )
        SELECT r.rowid AS ord, r.*, c.line, c.arrival,
               CASE
                   WHEN NOT c.stored AND c.arrival = 1 THEN 'new'
                   WHEN CASE WHEN c.content_hash IS NOT NULL AND c.first_hash IS NOT NULL
                             THEN c.content_hash = c.first_hash
                             ELSE c.payload_text IS NOT DISTINCT FROM c.first_payload
                        END THEN 'duplicate'
                   ELSE 'conflict'
               END AS status
        FROM uw_batch_raw r JOIN compared c ON c.ord = r.rowid
        """
    )


def _validate_batch(con: duckdb.DuckDBPyConnection) -> None:
    """Raise StagingRecordError for the first record of `uw_batch_raw` that breaks the contract."""
    raise_first_invalid(
        con,
        "uw_batch_raw",
        """CASE
            WHEN id IS NULL OR trim(id) = '' THEN 'id'
            WHEN received_at IS NULL THEN 'received_at'
            WHEN channel IS NULL OR trim(channel) = '' THEN 'channel'
        END""",
    )


def _insert_batch(con: duckdb.DuckDBPyConnection, inserted: Inserted) -> None:
    """Insert the new rows; the typed trade and market rows are kept in temp tables for the
    figures."""
    inserted(
        "universal_webhooks",
        """
        INSERT INTO universal_webhooks
        SELECT id, received_at, trade_date, form, channel, event, topic, join_ref, ref, payload,
               now(), segment, content_hash, extra
        FROM uw_batch_records WHERE status = 'new'
        """,
    )
    inserted(
        "webhook_conflicts",
        """
        INSERT INTO webhook_conflicts
        SELECT id, received_at, trade_date, form, channel, event, payload, segment, line, now()
        FROM uw_batch_records WHERE status = 'conflict'
        """,
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE uw_batch_trades AS
        SELECT {_trade_select()}
        FROM (
            SELECT {_trade_typed()}
            FROM uw_batch_records WHERE status = 'new' AND kind = 'trade'
        )
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE uw_batch_market AS
        SELECT {_market_select()}
        FROM (
            SELECT {_market_typed()}
            FROM uw_batch_records WHERE status = 'new' AND kind = 'market'
        )
        """
    )
    inserted(
        "option_trades_events", "INSERT INTO option_trades_events SELECT * FROM uw_batch_trades"
    )
    inserted("market_agg_state", "INSERT INTO market_agg_state SELECT * FROM uw_batch_market")


@dataclass(frozen=True)
class UwStreamLoad:
    """The `uw` stream for `lib.live.microbatch`: every message, trades and market states."""

    stream: str = UW_STREAM
    records: str = "uw_batch_records"
    temp_views: tuple[str, ...] = ()
    temp_tables: tuple[str, ...] = (
        "uw_batch_raw",
        "uw_batch_records",
        "uw_batch_trades",
        "uw_batch_market",
    )
    stats_table: str = "loaded_webhook_days"
    stats_columns: str = _DAY_COLUMNS
    stats_order: str = "batch, trade_date"
    stats_type: Callable[..., DayStats] = DayStats

    def stage(self, con: duckdb.DuckDBPyConnection, segments: Sequence[Segment]) -> None:
        _stage_batch(con, segments)

    def insert(self, con: duckdb.DuckDBPyConnection, inserted: Inserted) -> None:
        _insert_batch(con, inserted)

    def stats_select(self) -> str:
        return """
            SELECT b.trade_date,
                   count(*) FILTER (WHERE status = 'new'),
                   count(*) FILTER (WHERE status = 'new' AND kind = 'trade'),
                   count(*) FILTER (WHERE status = 'new' AND kind = 'market'),
                   count(*) FILTER (WHERE status = 'new' AND kind = 'other'),
                   count(*) FILTER (WHERE status = 'duplicate'),
                   count(*) FILTER (WHERE status = 'conflict'),
                   coalesce(any_value(f.failed), 0),
                   min(b.received_at), max(b.received_at)
            FROM uw_batch_records b
            LEFT JOIN (
                SELECT trade_date, count(*) AS failed FROM (
                    SELECT trade_date, cast_failures FROM uw_batch_trades
                    UNION ALL SELECT trade_date, cast_failures FROM uw_batch_market
                ) WHERE len(cast_failures) > 0 GROUP BY trade_date
            ) f ON f.trade_date = b.trade_date
            GROUP BY b.trade_date
        """


def load_uw_segments(
    con: duckdb.DuckDBPyConnection, segments: Sequence[Segment], *, run_id: str | None = None
) -> BatchReport[DayStats]:
    """Load the messages of `segments` (oldest first) into the webhook tables in one transaction.

    Segments already recorded in `loaded_segments` are not loaded again; the figures of the
    batches that loaded them are returned again (a crash between commit and reporting loses none).
    """
    return load_batch(con, UwStreamLoad(), segments, run_id)
