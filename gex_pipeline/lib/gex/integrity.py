"""Data-integrity checks of one date x feed partition, in SQL over a DuckDB connection.

Each check reads one partition (ticker, endpoint, trade_date) of `gex_snapshots` / `gex_strikes`
and returns an `IntegrityResult`: passed, the severity it carries when it fails, counts, a few
example timestamps (ISO, New York time) and a few details. Nothing is written.

- `timestamp_gaps`: consecutive in-session (09:30-16:00 New York) snapshots further apart than
  `max_gap_seconds`; a gap is reported by the last snapshot before it and the first after it.
- `duplicate_rows`: natural-key duplicates of `gex_snapshots` (ticker, endpoint, timestamp) and of
  `gex_strikes` (+ strike): whole snapshots stored twice and strikes repeated inside a snapshot.
- `spot_spikes`: moves of `spot` between consecutive snapshots (spot > 0) larger than both
  `spike_min_move` and `spike_robust_deviations` x the robust deviation (1.4826 x MAD) of the
  day's moves. A move that reverts at the next snapshot is a spike (one bad snapshot, reported);
  a move that stays is a jump (reported at the first snapshot of the new level).
- `zero_snapshots`: snapshots whose sums are 0 and whose every strike has gamma 0 and oi_gamma 0.
- `out_of_session_rows`: snapshots outside the regular session.
- `trade_date_mismatch`: rows whose trade_date is not the New York date of their timestamp.
- `parquet_reconciliation`: row count and an order-independent checksum of the exported Parquet
  file against the partition's `gex_strikes` rows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gex_pipeline.lib.calendar.trading_date import TRADING_TZ, TRADING_TZ_NAME
from gex_pipeline.lib.gex.parquet_export import EXPORT_COLUMNS, parquet_path

if TYPE_CHECKING:
    import duckdb

WARN = "WARN"
ERROR = "ERROR"

_SLICE = "ticker = $ticker AND endpoint = $endpoint AND trade_date = $trade_date"
_LOCAL_TIME = f"(to_timestamp(timestamp / 1000) AT TIME ZONE '{TRADING_TZ_NAME}')::TIME"
_IN_SESSION = f"{_LOCAL_TIME} >= TIME '09:30:00' AND {_LOCAL_TIME} < TIME '16:00:00'"
_ROW_HASH = f"hash({', '.join(EXPORT_COLUMNS)})::HUGEINT"
# 1.4826 x MAD estimates the standard deviation of normally distributed moves.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Thresholds:
    """Limits of the checks; the defaults suit 1 Hz feeds."""

    max_gap_seconds: float = 5.0
    cadence_seconds: float = 1.0
    spike_min_move: float = 0.01
    spike_robust_deviations: float = 10.0
    examples: int = 5

    def __post_init__(self) -> None:
        for name in ("max_gap_seconds", "cadence_seconds", "spike_robust_deviations"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if not 0 < self.spike_min_move < 1:
            raise ValueError(f"spike_min_move: must be between 0 and 1, got {self.spike_min_move}")
        if self.examples < 1:
            raise ValueError(f"examples: must be >= 1, got {self.examples}")


@dataclass(frozen=True)
class FeedDay:
    """One date x feed partition."""

    trade_date: date
    ticker: str
    endpoint: str

    def params(self) -> dict[str, object]:
        """SQL parameters `$ticker`, `$endpoint`, `$trade_date`."""
        return {"ticker": self.ticker, "endpoint": self.endpoint, "trade_date": self.trade_date}

    def __str__(self) -> str:
        return f"{self.ticker} {self.endpoint} {self.trade_date.isoformat()}"


@dataclass(frozen=True)
class IntegrityResult:
    """Verdict of one check on one partition; `severity` applies when `passed` is False."""

    name: str
    passed: bool
    severity: str
    counts: dict[str, int]
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)
    details: dict[str, str | float | None] = field(default_factory=dict)


def ny_iso(epoch_ms: int) -> str:
    """ISO-8601 New York time of an epoch-ms timestamp, e.g. `2025-11-14T09:31:07.000-05:00`."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(TRADING_TZ)
    return moment.isoformat(timespec="milliseconds")


def _isos(values: list[int]) -> tuple[str, ...]:
    return tuple(ny_iso(v) for v in values)


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def timestamp_gaps(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Gaps between consecutive in-session snapshots longer than `max_gap_seconds` (WARN)."""
    params = {**day.params(), "max_gap": round(limits.max_gap_seconds * 1000)}
    cadence_ms = round(limits.cadence_seconds * 1000)
    rows = _fetch(
        con,
        f"""
        WITH s AS (
            SELECT lag(timestamp) OVER (ORDER BY timestamp) AS before, timestamp AS after
            FROM gex_snapshots WHERE {_SLICE} AND {_IN_SESSION}
        )
        SELECT before, after FROM s WHERE after - before > $max_gap ORDER BY before
        """,
        params,
    )
    missing_ms = sum(after - before - cadence_ms for before, after in rows)
    longest = max(rows, key=lambda r: (r[1] - r[0], -r[0]), default=None)
    details: dict[str, str | float | None] = {
        "max_gap_seconds": limits.max_gap_seconds,
        "longest_gap_seconds": (longest[1] - longest[0]) / 1000 if longest else None,
        "longest_gap_after": ny_iso(longest[0]) if longest else None,
        "longest_gap_resumed": ny_iso(longest[1]) if longest else None,
    }
    return IntegrityResult(
        name="timestamp_gaps",
        passed=not rows,
        severity=WARN,
        counts={"gaps": len(rows), "missing_seconds": round(missing_ms / 1000)},
        examples={
            "gap_after": _isos([r[0] for r in rows[: limits.examples]]),
            "gap_resumed": _isos([r[1] for r in rows[: limits.examples]]),
        },
        details=details,
    )


def duplicate_rows(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Natural-key duplicates in `gex_snapshots` and `gex_strikes` (ERROR)."""
    params = day.params()
    snapshot_keys = _fetch(
        con,
        f"SELECT timestamp, count(*) FROM gex_snapshots WHERE {_SLICE}"
        " GROUP BY timestamp HAVING count(*) > 1 ORDER BY timestamp",
        params,
    )
    strike_keys = _fetch(
        con,
        f"""
        WITH k AS (
            SELECT timestamp, strike, count(*) AS n FROM gex_strikes WHERE {_SLICE}
            GROUP BY timestamp, strike
        )
        SELECT timestamp, sum(n - 1)::BIGINT AS extra, min(n) > 1 AS whole_snapshot
        FROM k GROUP BY timestamp HAVING max(n) > 1 ORDER BY timestamp
        """,
        params,
    )
    repeated = [r[0] for r in strike_keys if r[2]]
    partial = [r[0] for r in strike_keys if not r[2]]
    counts = {
        "snapshot_key_duplicates": sum(n - 1 for _, n in snapshot_keys),
        "strike_key_duplicates": sum(r[1] for r in strike_keys),
        "repeated_snapshots": len(repeated),
        "snapshots_with_duplicate_strikes": len(partial),
    }
    return IntegrityResult(
        name="duplicate_rows",
        passed=not snapshot_keys and not strike_keys,
        severity=ERROR,
        counts=counts,
        examples={
            "snapshot_key": _isos([r[0] for r in snapshot_keys[: limits.examples]]),
            "repeated_snapshot": _isos(repeated[: limits.examples]),
            "duplicate_strike": _isos(partial[: limits.examples]),
        },
    )


def spot_spikes(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Spot spikes (reverting) and jumps (lasting) between consecutive snapshots (WARN)."""
    params = {
        **day.params(),
        "min_move": limits.spike_min_move,
        "deviations": limits.spike_robust_deviations * _MAD_TO_SIGMA,
    }
    rows = _fetch(
        con,
        f"""
        WITH moves AS (
            SELECT timestamp, spot / lag(spot) OVER w - 1 AS move_in,
                   lead(spot) OVER w / spot - 1 AS move_out
            FROM gex_snapshots WHERE {_SLICE} AND spot > 0
            WINDOW w AS (ORDER BY timestamp)
        ),
        limit_ AS (
            SELECT greatest($min_move, $deviations * coalesce(mad(move_in), 0)) AS lim FROM moves
        ),
        flagged AS (
            SELECT timestamp, abs(move_in) > lim AS jump_in,
                   abs(move_in) > lim AND abs(move_out) > lim
                       AND sign(move_in) <> sign(move_out) AS spike
            FROM moves, limit_
        ),
        kinds AS (
            SELECT timestamp, jump_in, spike,
                   coalesce(lag(spike) OVER (ORDER BY timestamp), false) AS reverts
            FROM flagged
        )
        SELECT timestamp, CASE WHEN spike THEN 'spike' ELSE 'jump' END
        FROM kinds WHERE jump_in AND (spike OR NOT reverts) ORDER BY timestamp
        """,
        params,
    )
    spikes = [ts for ts, kind in rows if kind == "spike"]
    jumps = [ts for ts, kind in rows if kind == "jump"]
    return IntegrityResult(
        name="spot_spikes",
        passed=not rows,
        severity=WARN,
        counts={"spikes": len(spikes), "jumps": len(jumps)},
        examples={
            "spike": _isos(spikes[: limits.examples]),
            "jump": _isos(jumps[: limits.examples]),
        },
        details={
            "min_move": limits.spike_min_move,
            "robust_deviations": limits.spike_robust_deviations,
        },
    )


def zero_snapshots(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Snapshots with zero sums whose strikes all have zero gamma and oi_gamma (WARN)."""
    rows = _fetch(
        con,
        f"""
        WITH z AS (
            SELECT timestamp FROM gex_snapshots
            WHERE {_SLICE} AND coalesce(sum_gex_vol, 0) = 0 AND coalesce(sum_gex_oi, 0) = 0
        ),
        live AS (
            SELECT DISTINCT timestamp FROM gex_strikes
            WHERE {_SLICE} AND timestamp IN (SELECT timestamp FROM z)
              AND (coalesce(gamma, 0) <> 0 OR coalesce(oi_gamma, 0) <> 0)
        )
        SELECT timestamp FROM z ANTI JOIN live USING (timestamp) ORDER BY timestamp
        """,
        day.params(),
    )
    stamps = [r[0] for r in rows]
    return IntegrityResult(
        name="zero_snapshots",
        passed=not stamps,
        severity=WARN,
        counts={"zero_snapshots": len(stamps)},
        examples={"zero_snapshot": _isos(stamps[: limits.examples])},
    )


def out_of_session_rows(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Snapshots outside the regular session 09:30-16:00 New York time (WARN)."""
    rows = _fetch(
        con,
        f"SELECT timestamp FROM gex_snapshots WHERE {_SLICE} AND NOT ({_IN_SESSION})"
        " ORDER BY timestamp",
        day.params(),
    )
    stamps = [r[0] for r in rows]
    return IntegrityResult(
        name="out_of_session_rows",
        passed=not stamps,
        severity=WARN,
        counts={"out_of_session_rows": len(stamps)},
        examples={"out_of_session": _isos(stamps[: limits.examples])},
        details={
            "first": ny_iso(stamps[0]) if stamps else None,
            "last": ny_iso(stamps[-1]) if stamps else None,
        },
    )


def _new_york_day_ms(day: date) -> tuple[int, int]:
    """Epoch ms of New York midnight starting `day` and the next day (DST-correct)."""
    start = datetime.combine(day, time(0), tzinfo=TRADING_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=TRADING_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def trade_date_mismatch(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Rows filed under `trade_date` whose timestamp falls on another New York date (ERROR)."""
    start_ms, end_ms = _new_york_day_ms(day.trade_date)
    params = {**day.params(), "start_ms": start_ms, "end_ms": end_ms}
    counts: dict[str, int] = {}
    wrong: set[int] = set()
    for table in ("gex_snapshots", "gex_strikes"):
        rows = _fetch(
            con,
            f"SELECT timestamp, count(*) FROM {table} WHERE {_SLICE}"
            " AND (timestamp < $start_ms OR timestamp >= $end_ms) GROUP BY timestamp",
            params,
        )
        counts[f"{table}_rows"] = sum(n for _, n in rows)
        wrong.update(ts for ts, _ in rows)
    stamps = sorted(wrong)
    return IntegrityResult(
        name="trade_date_mismatch",
        passed=not stamps,
        severity=ERROR,
        counts=counts,
        examples={"wrong_date": _isos(stamps[: limits.examples])},
    )


def _parquet_sums(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int | None, str | None]:
    """(rows, checksum, error) of a Parquet file; error when it cannot be read."""
    import duckdb

    source = str(path).replace("'", "''")
    try:
        row = con.execute(f"SELECT count(*), sum({_ROW_HASH}) FROM read_parquet('{source}')")
        count, checksum = row.fetchone() or (0, None)
    except duckdb.Error as exc:
        return 0, None, str(exc).strip().splitlines()[0][:300]
    return int(count), checksum, None


def _differing_timestamps(
    con: duckdb.DuckDBPyConnection, day: FeedDay, path: Path, examples: int
) -> list[int]:
    """Timestamps whose rows differ between DuckDB and the Parquet file (first `examples`)."""
    source = str(path).replace("'", "''")
    rows = _fetch(
        con,
        f"""
        WITH d AS (
            SELECT timestamp, count(*) AS n, sum({_ROW_HASH}) AS h FROM gex_strikes
            WHERE {_SLICE} GROUP BY timestamp
        ),
        p AS (
            SELECT timestamp, count(*) AS n, sum({_ROW_HASH}) AS h
            FROM read_parquet('{source}') GROUP BY timestamp
        )
        SELECT coalesce(d.timestamp, p.timestamp) AS ts FROM d FULL JOIN p USING (timestamp)
        WHERE d.n IS DISTINCT FROM p.n OR d.h IS DISTINCT FROM p.h
        ORDER BY ts LIMIT {int(examples)}
        """,
        day.params(),
    )
    return [r[0] for r in rows]


def parquet_reconciliation(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    parquet_root: Path,
    limits: Thresholds = Thresholds(),
) -> IntegrityResult:
    """Row count and checksum of the partition's Parquet file against `gex_strikes` (ERROR).

    The checksum is the sum of DuckDB's `hash()` of every exported column of each row, so it does
    not depend on row order. A partition with no rows and no file passes; a missing or unreadable
    file for a partition with rows fails.
    """
    path = parquet_path(parquet_root, day.ticker, day.endpoint, day.trade_date)
    stored = _fetch(
        con, f"SELECT count(*), sum({_ROW_HASH}) FROM gex_strikes WHERE {_SLICE}", day.params()
    )
    db_rows, db_sum = int(stored[0][0]), stored[0][1]
    details: dict[str, str | float | None] = {"path": str(path)}
    if not path.exists():
        details["problem"] = "parquet file missing" if db_rows else None
        return IntegrityResult(
            name="parquet_reconciliation",
            passed=db_rows == 0,
            severity=ERROR,
            counts={"duckdb_rows": db_rows, "parquet_rows": 0},
            details=details,
        )
    pq_rows, pq_sum, error = _parquet_sums(con, path)
    passed = error is None and pq_rows == db_rows and pq_sum == db_sum
    differing = [] if passed or error else _differing_timestamps(con, day, path, limits.examples)
    details["problem"] = error or (None if passed else "rows differ")
    return IntegrityResult(
        name="parquet_reconciliation",
        passed=passed,
        severity=ERROR,
        counts={"duckdb_rows": db_rows, "parquet_rows": pq_rows},
        examples={"differing_timestamp": _isos(differing)},
        details=details,
    )


def partition_checks(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    parquet_root: Path,
    limits: Thresholds = Thresholds(),
    names: Collection[str] | None = None,
) -> list[IntegrityResult]:
    """The checks `names` (default: every check) of one partition, in a stable order."""
    checks = {
        "timestamp_gaps": timestamp_gaps,
        "duplicate_rows": duplicate_rows,
        "spot_spikes": spot_spikes,
        "zero_snapshots": zero_snapshots,
        "out_of_session_rows": out_of_session_rows,
        "trade_date_mismatch": trade_date_mismatch,
    }
    wanted = (set(checks) | {"parquet_reconciliation"}) if names is None else set(names)
    unknown = sorted(wanted - set(checks) - {"parquet_reconciliation"})
    if unknown:
        raise ValueError(f"names: unknown check(s) {', '.join(unknown)}")
    results = [check(con, day, limits) for name, check in checks.items() if name in wanted]
    if "parquet_reconciliation" in wanted:
        results.append(parquet_reconciliation(con, day, parquet_root, limits))
    return results
