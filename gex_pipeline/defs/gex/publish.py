"""The publish gate: a partition whose ERROR checks fail is not exported to Parquet."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from gex_pipeline.lib.gex.integrity import FeedDay, Thresholds, publish_blockers

if TYPE_CHECKING:
    import duckdb

_DEFAULTS = Thresholds()


def publish_gate(
    con: duckdb.DuckDBPyConnection,
    trade_date: date,
    ticker: str,
    endpoint: str,
    limits: Thresholds = _DEFAULTS,
) -> None:
    """Raise a non-retried `dg.Failure` naming the failed ERROR checks, when any fails.

    Called by the export before it writes: the previous Parquet file stays, and the run's failure
    (with the checks' counts as metadata) tells the UI why the partition was not published.
    """
    day = FeedDay(trade_date, ticker, endpoint)
    blockers = publish_blockers(con, day, limits)
    if not blockers:
        return
    summary = "; ".join(
        f"{r.name} ({', '.join(f'{k}={v}' for k, v in r.counts.items() if v)})" for r in blockers
    )
    raise dg.Failure(
        description=f"{day}: not exported to Parquet, ERROR check(s) failed: {summary}. "
        "The previous Parquet file (if any) is unchanged; fix the data (re-import, restore) "
        "and export again.",
        metadata={r.name: dg.MetadataValue.json(r.counts) for r in blockers},
        allow_retries=False,
    )
