"""Daily integrity checks of option trades (`option_trades_events`), in SQL over DuckDB.

Declared in the registry `WEBHOOK_CHECKS` (`gex_pipeline.lib.checks.registry`, like the GEX
checks). Each check reads one America/New_York trading date through a `TradeDayContext` and
returns an `IntegrityResult`: passed, severity, counts, examples (trade ids as details, execution
times as epoch-ms examples).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import trade_date_sql
from gex_pipeline.lib.checks.registry import ERROR, WARN, CheckRegistry, IntegrityResult
from gex_pipeline.lib.gex.integrity import Thresholds
from gex_pipeline.lib.webhooks.live_load import occ_parts_sql, occ_sql

if TYPE_CHECKING:
    import duckdb

_DAY = "trade_date = $trade_date"
TRADES = "option_trades_events"
_DEFAULTS = Thresholds()


@dataclass(frozen=True)
class TradeDayContext:
    """One trading date of option trades being judged, in `table` (a view of a file in
    `validate`)."""

    con: duckdb.DuckDBPyConnection
    day: date
    limits: Thresholds = _DEFAULTS
    table: str = TRADES

    def fetch(self, sql: str) -> list[tuple]:
        """Rows of `sql` with `$trade_date` bound."""
        return self.con.execute(sql, {"trade_date": self.day}).fetchall()

    def ids(self, rows: list[tuple]) -> str | None:
        """The first trade ids of `rows` (their first column), as details show them."""
        return ", ".join(str(r[0]) for r in rows[: self.limits.examples]) or None


WEBHOOK_CHECKS: CheckRegistry[TradeDayContext] = CheckRegistry(TradeDayContext)


@WEBHOOK_CHECKS.check("unique_trade_ids", ERROR, judges=TRADES, reads=(TRADES,), gate=True)
def unique_trade_ids(c: TradeDayContext) -> IntegrityResult:
    """Every option trade id is stored once for the day."""
    rows = c.fetch(
        f"SELECT id, count(*) FROM {c.table} WHERE {_DAY} GROUP BY id HAVING count(*) > 1"
        " ORDER BY id"
    )
    return IntegrityResult(
        passed=not rows,
        counts={"repeated_ids": len(rows), "extra_rows": sum(n - 1 for _, n in rows)},
        details={"example_ids": c.ids(rows)},
    )


@WEBHOOK_CHECKS.check("occ_symbols_parse", WARN, judges=TRADES, reads=(TRADES,))
def occ_symbols_parse(c: TradeDayContext) -> IntegrityResult:
    """Every option_chain_id is an OCC symbol (root, expiry, type, strike)."""
    rows = c.fetch(
        f"""
        SELECT id, option_chain_id FROM (
            SELECT id, option_chain_id, {occ_parts_sql("option_chain_id")} AS p FROM {c.table}
            WHERE {_DAY}
        ) WHERE option_chain_id IS NULL OR {occ_sql("p")} IS NULL ORDER BY id
        """
    )
    symbols = ", ".join(repr(r[1]) for r in rows[: c.limits.examples]) or None
    return IntegrityResult(
        passed=not rows,
        counts={"unparsed_symbols": len(rows)},
        details={"example_ids": c.ids(rows), "example_symbols": symbols},
    )


@WEBHOOK_CHECKS.check("executed_at_in_day", ERROR, judges=TRADES, reads=(TRADES,), gate=True)
def executed_at_in_day(c: TradeDayContext) -> IntegrityResult:
    """Every trade has an executed_at on the partition's New York date."""
    rows = c.fetch(
        f"""
        SELECT id, executed_at FROM {c.table}
        WHERE {_DAY} AND (executed_at IS NULL OR {trade_date_sql("executed_at")} <> trade_date)
        ORDER BY executed_at NULLS FIRST, id
        """
    )
    stamps = tuple(r[1] for r in rows if r[1] is not None)
    return IntegrityResult(
        passed=not rows,
        counts={
            "missing_executed_at": sum(1 for r in rows if r[1] is None),
            "other_day": len(stamps),
        },
        examples={"executed_at": stamps[: c.limits.examples]},
        details={"example_ids": c.ids(rows)},
    )


@WEBHOOK_CHECKS.check("trade_cast_failures", WARN, judges=TRADES, reads=(TRADES,))
def trade_cast_failures(c: TradeDayContext) -> IntegrityResult:
    """No present trade value failed its cast (cast_failures is empty)."""
    rows = c.fetch(
        f"SELECT id, cast_failures FROM {c.table} WHERE {_DAY} AND len(cast_failures) > 0"
        " ORDER BY id"
    )
    fields = sorted({f for r in rows for f in r[1]})
    return IntegrityResult(
        passed=not rows,
        counts={"rows_with_cast_failures": len(rows)},
        details={"example_ids": c.ids(rows), "fields": ", ".join(fields) or None},
    )


# ERROR checks judged before the export: a failure keeps the day out of Parquet.
WEBHOOK_PUBLISH_GATES: tuple[str, ...] = WEBHOOK_CHECKS.gates


def day_checks(
    con: duckdb.DuckDBPyConnection,
    day: date,
    limits: Thresholds = _DEFAULTS,
    names: Collection[str] | None = None,
    table: str = TRADES,
) -> list[IntegrityResult]:
    """The checks `names` (default: all) of one trading date of option trades, in a stable order."""
    context = TradeDayContext(con, day, limits, table)
    return [check.run(context) for check in WEBHOOK_CHECKS.select(names)]
