"""Parse, flatten and validate one day file with DuckDB into temp tables ready to replace a slice.

`read_json` with an explicit column list (no schema sampling) parses the file; strike rows
`[strike, gamma_vol, gamma_oi, [p1, p5, p10, p15, p30]]` (2-4 elements) are typed as `JSON[][]`
and flattened with `UNNEST`. A file that this typing refuses is read once more with each row as
`JSON`, which also takes legacy dict rows `{"strike", "gamma_now"|"gamma", "vanna"|"oi_gamma",
"history"}` (mapped to the same 4 elements); only a file refused both ways is invalid. Validation happens in SQL, never in Python loops over rows:

- timestamps in epoch seconds or milliseconds (told apart by magnitude) or ISO-8601 strings,
  stored as epoch ms; unparseable or outside 2000-2100 -> `bad_timestamp`;
- a `ticker` / `endpoint` field that contradicts the partition -> `wrong_ticker` / `wrong_endpoint`;
- a trading date (America/New_York) other than the partition's -> `wrong_date`;
- a repeated timestamp -> `duplicate_timestamp` (the first in file order wins);
- a strike that is not a number -> `bad_strike`; a repeated strike in one snapshot ->
  `duplicate_strike` (the first wins); both counted by the replace, which sees the strike rows.

The result is the temp table `hist_day_raw` (one row per snapshot, with the reason it is dropped or
NULL); `SNAPSHOTS_SELECT` and `STRIKES_SELECTS` read it in the column order of `gex_snapshots` /
`gex_strikes` (parameters `$ticker`, `$endpoint`, `$trade_date`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import TRADING_TZ_NAME
from gex_pipeline.lib.gex.feed_day import FeedDay
from gex_pipeline.lib.history.day_format import (
    MAX_DECOMPRESSED_BYTES,
    DayFileForm,
    DayFileInvalid,
    sniff_day_file,
    unwrap_array,
)
from gex_pipeline.lib.payloads.gex import SCALAR_NAMES

if TYPE_CHECKING:
    import duckdb

HISTORY_SOURCE = "history"
# Kept strikes per timestamp (`timestamp`, `strike_count`), filled by the replace before snapshots.
COUNTS_TABLE = "hist_day_counts"

_MIN_MS = 946_684_800_000  # 2000-01-01
_MAX_MS = 4_102_444_800_000  # 2100-01-01
# Why a snapshot is dropped, tested in this order (SQL over the columns `_raw_sql` reads); a
# repeated timestamp among the rest is marked afterwards (`_MARK_DUPLICATES_SQL`).
_DROP_RULES: tuple[tuple[str, str], ...] = (
    ("bad_timestamp", f"ts_ms IS NULL OR ts_ms < {_MIN_MS} OR ts_ms >= {_MAX_MS}"),
    ("wrong_ticker", "f_ticker IS NOT NULL AND upper(trim(f_ticker)) <> $ticker"),
    ("wrong_endpoint", "f_endpoint IS NOT NULL AND lower(trim(f_endpoint)) <> $endpoint"),
    (
        "wrong_date",
        f"(to_timestamp(ts_ms / 1000) AT TIME ZONE '{TRADING_TZ_NAME}')::DATE <> $trade_date",
    ),
)
DROP_REASONS: tuple[str, ...] = (*(reason for reason, _ in _DROP_RULES), "duplicate_timestamp")
_MAX_OBJECT_BYTES = 64 * 1024**2

# Snapshot figures a day file may hold, under every accepted name.
_NUMERIC = SCALAR_NAMES
# Fields of a snapshot record that carry its content (two copies of a second differ in one of them).
CONTENT_COLUMNS: tuple[str, ...] = (*_NUMERIC, "strikes", "max_priors", "max_change")

# Each strike row as a JSON array (array rows as they are, dict rows mapped to the same order).
_ROWS_AS_ARRAYS = (
    "list_transform(strikes, lambda s: CASE WHEN json_type(s) = 'OBJECT' THEN "
    "[s->'$.strike', coalesce(s->'$.gamma_now', s->'$.gamma'), "
    "coalesce(s->'$.vanna', s->'$.oi_gamma'), s->'$.history'] "
    "ELSE TRY_CAST(s AS JSON[]) END)"
)
_COLUMNS: dict[str, str] = {
    "timestamp": "VARCHAR",
    "ticker": "VARCHAR",
    "endpoint": "VARCHAR",
    **dict.fromkeys(_NUMERIC, "DOUBLE"),
    "strikes": "JSON[][]",
    "max_priors": "JSON",
    "max_change": "JSON",
}


@dataclass(frozen=True)
class ParsedDay:
    """Counts of a parsed, validated day file (its snapshots are now in `hist_day_raw`)."""

    snapshots: int
    listed_strike_rows: int
    dropped: dict[str, int]
    first_ts: int | None
    last_ts: int | None


def _source_sql(path: Path, form: DayFileForm, rows_as_json: bool = False) -> str:
    """A FROM clause yielding the snapshot columns plus `ord` (1-based position in the file);
    with `rows_as_json` each strike row is read as one JSON value (dict rows allowed)."""
    compression = "'gzip'" if form.gzip else "'none'"
    types = {**_COLUMNS, "strikes": "JSON[]"} if rows_as_json else _COLUMNS
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    json_format = "'array'" if form.layout in ("array", "wrapped") else "'newline_delimited'"
    names = ", ".join(f'"{k}"' for k in _COLUMNS)
    return (
        f"read_json('{_quote(path)}', format={json_format}, compression={compression}, "
        f"columns={columns}, maximum_object_size={_MAX_OBJECT_BYTES}) "
        f"WITH ORDINALITY AS src({names}, ord)"
    )


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _raw_sql(source: str, strikes: str = "strikes") -> str:
    return f"""
    CREATE OR REPLACE TEMP TABLE hist_day_raw AS
    WITH r AS (
        SELECT ord, {strikes} AS strikes, max_priors, max_change, ticker AS f_ticker, endpoint AS f_endpoint,
               spot, spot_price, zero_gamma, sum_gex_vol, net_gex_vol, net_gex, sum_gex_oi,
               net_gex_oi, major_pos_vol, major_neg_vol, major_pos_oi, major_neg_oi,
               min_dte, sec_min_dte, delta_risk_reversal,
               TRY_CAST(timestamp AS DOUBLE) AS ts_num,
               timestamp AS ts_text
        FROM {source}
    ), t AS (
        SELECT *,
               CASE
                   WHEN ts_num IS NOT NULL AND abs(ts_num) >= 1e11 THEN round(ts_num)::BIGINT
                   WHEN ts_num IS NOT NULL THEN round(ts_num * 1000)::BIGINT
                   ELSE epoch_ms(TRY_CAST(ts_text AS TIMESTAMPTZ))
               END AS ts_ms
        FROM r
    )
    SELECT *,
           CASE {" ".join(f"WHEN {test} THEN '{reason}'" for reason, test in _DROP_RULES)}
           END AS reason,
           coalesce(len(strikes), 0) AS n_strikes
    FROM t
    """


_MARK_DUPLICATES_SQL = """
UPDATE hist_day_raw SET reason = 'duplicate_timestamp'
WHERE ord IN (
    SELECT ord FROM hist_day_raw WHERE reason IS NULL
    QUALIFY row_number() OVER (PARTITION BY ts_ms ORDER BY ord) > 1
)
"""

_DROPPED_SQL = """
SELECT reason, count(*) FROM hist_day_raw WHERE reason IS NOT NULL GROUP BY reason
"""

_KEPT_SQL = """
SELECT count(*), min(ts_ms), max(ts_ms), coalesce(sum(n_strikes), 0)
FROM hist_day_raw WHERE reason IS NULL
"""

_TYPED_STRIKES = """
SELECT ts_ms, idx, TRY_CAST(s[1] AS DOUBLE) AS strike, TRY_CAST(s[2] AS DOUBLE) AS gamma,
       TRY_CAST(s[3] AS DOUBLE) AS oi_gamma, TRY_CAST(s[4] AS DOUBLE[]) AS priors
FROM (
    SELECT ts_ms, unnest(strikes) AS s, generate_subscripts(strikes, 1) AS idx
    FROM hist_day_raw WHERE reason IS NULL
)
"""

_STRIKE_COLUMNS = (
    "$ticker AS ticker, $endpoint AS endpoint, ts_ms AS timestamp, $trade_date AS trade_date,"
    " strike, gamma, oi_gamma, priors"
)

# Every strike row with a numeric strike, in file order (fast path: no window).
STRIKES_SELECT = f"SELECT {_STRIKE_COLUMNS} FROM ({_TYPED_STRIKES}) WHERE strike IS NOT NULL"
# The same, keeping only the first row of a strike repeated within one snapshot.
STRIKES_DEDUP_SELECT = (
    f"{STRIKES_SELECT} QUALIFY row_number() OVER (PARTITION BY ts_ms, strike ORDER BY idx) = 1"
)

SNAPSHOTS_SELECT = f"""
SELECT $ticker AS ticker, $endpoint AS endpoint, ts_ms AS timestamp, $trade_date AS trade_date,
       coalesce(spot, spot_price) AS spot,
       zero_gamma,
       coalesce(nullif(sum_gex_vol, 0), nullif(net_gex_vol, 0), nullif(net_gex, 0),
                sum_gex_vol, net_gex_vol, net_gex) AS sum_gex_vol,
       coalesce(nullif(sum_gex_oi, 0), nullif(net_gex_oi, 0), sum_gex_oi, net_gex_oi)
           AS sum_gex_oi,
       major_pos_vol, major_neg_vol, major_pos_oi, major_neg_oi,
       TRY_CAST(min_dte AS INTEGER) AS min_dte, TRY_CAST(sec_min_dte AS INTEGER) AS sec_min_dte,
       delta_risk_reversal,
       TRY_CAST(max_priors AS DOUBLE[][]) AS max_priors,
       max_change,
       NULL::JSON AS extra,
       coalesce(c.strike_count, 0)::INTEGER AS strike_count,
       NULL::VARCHAR AS content_hash,
       '{HISTORY_SOURCE}' AS source,
       now() AS ingested_at,
       NULL::VARCHAR AS payload_id
FROM hist_day_raw LEFT JOIN {COUNTS_TABLE} c ON c.timestamp = hist_day_raw.ts_ms
WHERE reason IS NULL
ORDER BY ts_ms
"""


def parse_day_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    day: FeedDay,
    *,
    work_dir: Path | None = None,
    max_decompressed: int = MAX_DECOMPRESSED_BYTES,
) -> ParsedDay:
    """Load `path` into the temp tables for the slice `day`; count drops.

    Raises `DayFileInvalid` naming the problem when the file cannot be parsed, holds no snapshot of
    the slice, or holds more dropped snapshots than kept ones (a wrong file). Nothing persistent is
    touched.
    """
    import duckdb

    form = sniff_day_file(path)
    params = day.params()
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="gex-unwrap-") as tmp:
        source = path
        if form.layout == "wrapped":
            source = unwrap_array(path, form, Path(tmp) / "day.json", max_decompressed)
            form = DayFileForm(gzip=False, layout="array")
        with _one_thread(con):
            try:
                con.execute(_raw_sql(_source_sql(source, form)), params)
            except duckdb.Error as exc:
                try:
                    con.execute(_raw_sql(_source_sql(source, form, True), _ROWS_AS_ARRAYS), params)
                except duckdb.Error:
                    raise DayFileInvalid(
                        f"file: not a valid day file ({_first_line(exc)})"
                    ) from None
    con.execute(_MARK_DUPLICATES_SQL)
    dropped = dict.fromkeys(DROP_REASONS, 0)
    dropped.update({r: int(n) for r, n in con.execute(_DROPPED_SQL).fetchall()})
    # fetchall drains the result: a `register` on `con` refuses while one is unfinished.
    kept, first_ts, last_ts, listed = (con.execute(_KEPT_SQL).fetchall() or [(0, None, None, 0)])[0]
    _refuse_wrong_file(int(kept), dropped, day)
    return ParsedDay(int(kept), int(listed), dropped, first_ts, last_ts)


@contextmanager
def _one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the statements of the block on one DuckDB thread (the connection's setting is put
    back after): `read_json` of one file parses ~15 % faster alone than with a second thread."""
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


def drop_parsed(con: duckdb.DuckDBPyConnection) -> None:
    """Free the temp tables of a parsed day file."""
    con.execute("DROP TABLE IF EXISTS hist_day_raw")
    con.execute(f"DROP TABLE IF EXISTS {COUNTS_TABLE}")


def _refuse_wrong_file(kept: int, dropped: dict[str, int], day: FeedDay) -> None:
    invalid = {r: n for r, n in dropped.items() if n and r != "duplicate_timestamp"}
    detail = ", ".join(f"{r}={n}" for r, n in sorted(invalid.items())) or "the file is empty"
    if kept == 0:
        raise DayFileInvalid(f"file: no snapshot belongs to {day} ({detail})")
    if sum(invalid.values()) > kept:
        raise DayFileInvalid(
            f"file: more snapshots are invalid than valid for {day} "
            f"({detail}; {kept} valid): wrong file?"
        )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
