"""Keep what a history import drops and the live snapshots it replaces, inside its transaction.

- `gex_history_rejects`: every snapshot record the parse dropped (`hist_day_raw.reason`), with its
  position in the file, its timestamp, the reason, and for a repeated second whether its content
  `differs` from the copy that was kept (and both spots). Replaced per slice at each import, so the
  table always describes the file the slice came from.
- `gex_live_shadow`: `timestamp, spot, zero_gamma` of the slice's live rows (`source = 'live'`)
  just before the import deletes them; later imports of the slice keep them (a newer live copy of
  the same second replaces an older one). The `live_history_drift` check compares them with the
  imported rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gex_pipeline.lib.gex.feed_day import SLICE_SQL
from gex_pipeline.lib.history.day_parse import CONTENT_COLUMNS

if TYPE_CHECKING:
    import duckdb

_CONTENT = (
    "to_json(struct_pack(" + ", ".join(f"{c} := {c}" for c in CONTENT_COLUMNS) + "))::VARCHAR"
)
_RECORD = (
    "to_json(struct_pack(timestamp := ts_text, ticker := f_ticker, endpoint := f_endpoint, "
    + ", ".join(f"{c} := {c}" for c in CONTENT_COLUMNS)
    + "))"
)

_DELETE_REJECTS = f"DELETE FROM gex_history_rejects WHERE {SLICE_SQL}"
_INSERT_REJECTS = f"""
INSERT INTO gex_history_rejects
WITH repeated AS (
    SELECT DISTINCT ts_ms FROM hist_day_raw WHERE reason = 'duplicate_timestamp'
), kept AS (
    SELECT ts_ms, spot AS kept_spot, {_CONTENT} AS content FROM hist_day_raw
    WHERE reason IS NULL AND ts_ms IN (SELECT ts_ms FROM repeated)
)
SELECT $ticker, $endpoint, $trade_date, r.ord - 1, r.ts_ms, r.reason,
       CASE WHEN r.reason = 'duplicate_timestamp' THEN {_CONTENT} <> k.content END,
       r.spot, k.kept_spot, {_RECORD}, now()
FROM hist_day_raw r LEFT JOIN kept k ON r.reason = 'duplicate_timestamp' AND k.ts_ms = r.ts_ms
WHERE r.reason IS NOT NULL
"""
_SHADOW_LIVE = f"""
INSERT OR REPLACE INTO gex_live_shadow
SELECT ticker, endpoint, timestamp, trade_date, spot, zero_gamma, ingested_at, now()
FROM gex_snapshots WHERE {SLICE_SQL} AND source = 'live'
"""


def keep_dropped_and_replaced(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> None:
    """Record the parsed file's dropped rows and shadow the slice's live rows (call inside the
    replace transaction, before the slice is deleted)."""
    con.execute(_DELETE_REJECTS, params)
    con.execute(_INSERT_REJECTS, params)
    con.execute(_SHADOW_LIVE, params)
