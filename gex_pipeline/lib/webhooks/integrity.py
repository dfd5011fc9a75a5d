"""Daily integrity checks of option trades (`option_trades_events`), in SQL over DuckDB.

Each check reads one America/New_York trading date and returns an `IntegrityResult` (the same
type as the GEX checks): passed, severity, counts, examples (trade ids as details, execution
times as epoch-ms examples).

- `unique_trade_ids` (ERROR): a trade id appears once.
- `occ_symbols_parse` (WARN): every `option_chain_id` is an OCC symbol (root, expiry, type, strike).
- `executed_at_in_day` (ERROR): every `executed_at` is present and on the partition's New York date.
- `trade_cast_failures` (WARN): no present value failed its cast (`cast_failures` is empty).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import trade_date_sql
from gex_pipeline.lib.gex.integrity import ERROR, WARN, IntegrityResult, Thresholds
from gex_pipeline.lib.webhooks.live_load import occ_parts_sql, occ_sql

if TYPE_CHECKING:
    import duckdb

_DAY = "trade_date = $trade_date"
TRADES = "option_trades_events"
_DEFAULTS = Thresholds()


def _ids(rows: list[tuple], limits: Thresholds) -> str | None:
    return ", ".join(str(r[0]) for r in rows[: limits.examples]) or None


def unique_trade_ids(
    con: duckdb.DuckDBPyConnection,
    day: date,
    limits: Thresholds = _DEFAULTS,
    table: str = TRADES,
) -> IntegrityResult:
    """Trade ids stored more than once for the day (ERROR)."""
    rows = con.execute(
        f"SELECT id, count(*) FROM {table} WHERE {_DAY} GROUP BY id HAVING count(*) > 1 ORDER BY id",
        {"trade_date": day},
    ).fetchall()
    return IntegrityResult(
        name="unique_trade_ids",
        passed=not rows,
        severity=ERROR,
        counts={"repeated_ids": len(rows), "extra_rows": sum(n - 1 for _, n in rows)},
        details={"example_ids": _ids(rows, limits)},
    )


def occ_symbols_parse(
    con: duckdb.DuckDBPyConnection,
    day: date,
    limits: Thresholds = _DEFAULTS,
    table: str = TRADES,
) -> IntegrityResult:
    """Trades whose `option_chain_id` is not an OCC symbol (WARN)."""
    parsed = occ_sql("p")
    rows = con.execute(
        f"""
        SELECT id, option_chain_id FROM (
            SELECT id, option_chain_id, {occ_parts_sql("option_chain_id")} AS p FROM {table}
            WHERE {_DAY}
        ) WHERE option_chain_id IS NULL OR {parsed} IS NULL ORDER BY id
        """,
        {"trade_date": day},
    ).fetchall()
    symbols = ", ".join(repr(r[1]) for r in rows[: limits.examples]) or None
    return IntegrityResult(
        name="occ_symbols_parse",
        passed=not rows,
        severity=WARN,
        counts={"unparsed_symbols": len(rows)},
        details={"example_ids": _ids(rows, limits), "example_symbols": symbols},
    )


def executed_at_in_day(
    con: duckdb.DuckDBPyConnection,
    day: date,
    limits: Thresholds = _DEFAULTS,
    table: str = TRADES,
) -> IntegrityResult:
    """Trades without `executed_at` or executed on another New York date (ERROR)."""
    rows = con.execute(
        f"""
        SELECT id, executed_at FROM {table}
        WHERE {_DAY} AND (executed_at IS NULL OR {trade_date_sql("executed_at")} <> trade_date)
        ORDER BY executed_at NULLS FIRST, id
        """,
        {"trade_date": day},
    ).fetchall()
    stamps = tuple(r[1] for r in rows if r[1] is not None)
    return IntegrityResult(
        name="executed_at_in_day",
        passed=not rows,
        severity=ERROR,
        counts={
            "missing_executed_at": sum(1 for r in rows if r[1] is None),
            "other_day": len(stamps),
        },
        examples={"executed_at": stamps[: limits.examples]},
        details={"example_ids": _ids(rows, limits)},
    )


def trade_cast_failures(
    con: duckdb.DuckDBPyConnection,
    day: date,
    limits: Thresholds = _DEFAULTS,
    table: str = TRADES,
) -> IntegrityResult:
    """Trades with a present value that failed its cast (stored NULL, named) (WARN)."""
    rows = con.execute(
        f"SELECT id, cast_failures FROM {table} WHERE {_DAY} AND len(cast_failures) > 0"
        " ORDER BY id",
        {"trade_date": day},
    ).fetchall()
    fields = sorted({f for r in rows for f in r[1]})
    return IntegrityResult(
        name="trade_cast_failures",
        passed=not rows,
        severity=WARN,
        counts={"rows_with_cast_failures": len(rows)},
        details={"example_ids": _ids(rows, limits), "fields": ", ".join(fields) or None},
    )


WebhookCheck = Callable[..., IntegrityResult]
WEBHOOK_CHECKS: dict[str, WebhookCheck] = {
    "unique_trade_ids": unique_trade_ids,
    "occ_symbols_parse": occ_symbols_parse,
    "executed_at_in_day": executed_at_in_day,
    "trade_cast_failures": trade_cast_failures,
}
WEBHOOK_PUBLISH_GATES: tuple[str, ...] = ("unique_trade_ids", "executed_at_in_day")


def day_checks(
    con: duckdb.DuckDBPyConnection,
    day: date,
    limits: Thresholds = _DEFAULTS,
    names: set[str] | None = None,
    table: str = TRADES,
) -> list[IntegrityResult]:
    """The checks `names` (default: all) of one trading date of option trades, in a stable order."""
    unknown = sorted((names or set()) - set(WEBHOOK_CHECKS))
    if unknown:
        raise ValueError(f"names: unknown check(s) {', '.join(unknown)}")
    return [
        check(con, day, limits, table)
        for name, check in WEBHOOK_CHECKS.items()
        if names is None or name in names
    ]
