"""Data-integrity checks of one date x feed partition, in SQL over a DuckDB connection.

Each check reads one partition (ticker, endpoint, trade_date) and returns an `IntegrityResult`:
passed, the severity it carries when it fails, counts, example timestamps, blocks of defects
(start, end, length) and details. Timestamps are epoch ms; `ny_iso` formats them. Nothing is
written. The session (open, close, early close, holidays) comes from the exchange calendar
(`gex_pipeline.lib.calendar.sessions`).

On `gex_snapshots`:
- `timestamp_gaps` (WARN): in-session snapshots further apart than `max_gap_seconds`; each gap is
  a block from the last snapshot before it to the first after it.
- `session_coverage` (WARN): the first / last in-session snapshot against the session's open /
  close (a late start or early end beyond `max_gap_seconds`), and present vs expected snapshots at
  the feed's cadence (below `min_completeness` fails).
- `spot_spikes` (WARN): moves of `spot` between consecutive snapshots larger than both
  `spike_min_move` and `spike_robust_deviations` x the robust deviation (1.4826 x MAD) of the
  day's moves; a move that reverts at the next snapshot is a spike, one that stays is a jump.
- `zero_snapshots` (WARN): snapshots whose sums are 0 and whose every strike has gamma 0 and
  oi_gamma 0, as blocks of consecutive snapshots.
- `out_of_session_rows` (WARN): snapshots outside the session; every row of a day that is not a
  session (weekend, holiday).
- `trade_date_mismatch` (ERROR): rows whose trade_date is not the New York date of their timestamp.
- `history_dropped_rows` (WARN): seconds the imported file holds twice with different content,
  and unreadable timestamps (kept in `gex_history_rejects`).
- `history_foreign_rows` (ERROR): rows of another date, ticker or endpoint in the imported file.
- `live_history_drift` (WARN): live snapshots replaced by a history import (`gex_live_shadow`)
  whose spot or zero_gamma differ from the imported row of the same second beyond a tolerance.
On `gex_strikes`:
- `duplicate_rows` (ERROR): natural-key duplicates of snapshots and strike rows.
On `gex_parquet`:
- `parquet_reconciliation` (ERROR): row count and order-independent checksum of the Parquet
  file against the partition's `gex_strikes` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gex_pipeline.lib.calendar.sessions import session
from gex_pipeline.lib.calendar.trading_date import TRADING_TZ
from gex_pipeline.lib.gex.parquet_export import EXPORT_COLUMNS, parquet_path
from gex_pipeline.lib.gex.parquet_manifest import file_state
from gex_pipeline.lib.gex.partition_figures import StrikeFigures, StrikeState, strike_state
from gex_pipeline.lib.gex.snapshot_scan import (
    Snapshots,
    gaps,
    read_snapshots,
    repeated,
    runs,
    spot_moves,
)

if TYPE_CHECKING:
    import duckdb

WARN = "WARN"
ERROR = "ERROR"

_SLICE = "ticker = $ticker AND endpoint = $endpoint AND trade_date = $trade_date"
_ROW_HASH = f"hash({', '.join(EXPORT_COLUMNS)})::HUGEINT"
# 1.4826 x MAD estimates the standard deviation of normally distributed moves.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Thresholds:
    """Limits of the checks; the defaults suit 1 Hz feeds."""

    max_gap_seconds: float = 5.0
    cadence_seconds: float = 1.0
    min_completeness: float = 0.95
    spike_min_move: float = 0.01
    spike_robust_deviations: float = 10.0
    drift_spot_tolerance: float = 0.0005
    drift_zero_gamma_tolerance: float = 0.001
    examples: int = 5

    def __post_init__(self) -> None:
        for name in (
            "max_gap_seconds",
            "cadence_seconds",
            "spike_robust_deviations",
            "drift_spot_tolerance",
            "drift_zero_gamma_tolerance",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.max_gap_seconds < self.cadence_seconds:
            raise ValueError(
                f"max_gap_seconds: must be >= cadence_seconds ({self.cadence_seconds}), "
                f"got {self.max_gap_seconds}"
            )
        if not 0 < self.spike_min_move < 1:
            raise ValueError(f"spike_min_move: must be between 0 and 1, got {self.spike_min_move}")
        if not 0 <= self.min_completeness <= 1:
            raise ValueError(
                f"min_completeness: must be between 0 and 1, got {self.min_completeness}"
            )
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

    def window(self) -> tuple[int, int] | None:
        """(open, close) epoch ms of the partition's session; None when it is not a session."""
        held = session(self.trade_date)
        return None if held is None else (held.open_ms, held.close_ms)

    def __str__(self) -> str:
        return f"{self.ticker} {self.endpoint} {self.trade_date.isoformat()}"


@dataclass(frozen=True)
class Block:
    """A run of defects: from `start_ms` to `end_ms` (epoch ms), `length` snapshots or seconds."""

    start_ms: int
    end_ms: int
    length: int


@dataclass(frozen=True)
class IntegrityResult:
    """Verdict of one check on one partition; `severity` applies when `passed` is False.

    `examples` and `instants` hold epoch-ms timestamps; `blocks` runs of defects.
    """

    name: str
    passed: bool
    severity: str
    counts: dict[str, int]
    examples: dict[str, tuple[int, ...]] = field(default_factory=dict)
    blocks: dict[str, tuple[Block, ...]] = field(default_factory=dict)
    instants: dict[str, int | None] = field(default_factory=dict)
    details: dict[str, str | float | None] = field(default_factory=dict)


def ny_iso(epoch_ms: int) -> str:
    """ISO-8601 New York time of an epoch-ms timestamp, e.g. `2025-11-14T09:31:07.000-05:00`."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(TRADING_TZ)
    return moment.isoformat(timespec="milliseconds")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def _session_details(day: FeedDay) -> tuple[dict[str, int | None], dict[str, str | float | None]]:
    window = day.window()
    if window is None:
        return {}, {"session": "not a trading session (weekend or holiday)"}
    early = window[1] - window[0] < 6.5 * 3600 * 1000
    return (
        {"session_open": window[0], "session_close": window[1]},
        {"session": "early close" if early else "regular"},
    )


def _in_session(snaps: Snapshots, day: FeedDay) -> np.ndarray:
    """Timestamps of the snapshots inside the session (none on a day that is not a session)."""
    open_ms, close_ms = day.window() or (0, 0)
    stamps = snaps.timestamp
    return stamps[(stamps >= open_ms) & (stamps < close_ms)]


def timestamp_gaps(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
) -> IntegrityResult:
    """Gaps between consecutive in-session snapshots longer than `max_gap_seconds` (WARN)."""
    snaps = snaps if snaps is not None else read_snapshots(con, day.params())
    cadence_ms = round(limits.cadence_seconds * 1000)
    rows = gaps(_in_session(snaps, day), round(limits.max_gap_seconds * 1000))
    blocks = tuple(Block(b, a, round((a - b - cadence_ms) / 1000)) for b, a in rows)
    longest = max(blocks, key=lambda g: (g.length, -g.start_ms), default=None)
    return IntegrityResult(
        name="timestamp_gaps",
        passed=not rows,
        severity=WARN,
        counts={"gaps": len(rows), "missing_seconds": sum(g.length for g in blocks)},
        examples={"gap_after": tuple(g.start_ms for g in blocks[: limits.examples])},
        blocks={"gap": blocks},
        instants={
            "longest_gap_after": longest.start_ms if longest else None,
            "longest_gap_resumed": longest.end_ms if longest else None,
        },
        details={
            "max_gap_seconds": limits.max_gap_seconds,
            "longest_gap_seconds": longest.length if longest else None,
        },
    )


def session_coverage(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
) -> IntegrityResult:
    """First / last in-session snapshot against open / close, present vs expected (WARN)."""
    instants, details = _session_details(day)
    window = day.window()
    if window is None:
        return IntegrityResult("session_coverage", True, WARN, {}, details=details)
    open_ms, close_ms = window
    snaps = snaps if snaps is not None else read_snapshots(con, day.params())
    inside = _in_session(snaps, day)
    present = int(inside.size)
    first = int(inside[0]) if present else None
    last = int(inside[-1]) if present else None
    cadence_ms = round(limits.cadence_seconds * 1000)
    tolerance_ms = round(limits.max_gap_seconds * 1000)
    expected = (close_ms - open_ms) // cadence_ms
    blocks: dict[str, tuple[Block, ...]] = {}
    if present and first - open_ms > tolerance_ms:
        blocks["late_start"] = (Block(open_ms, first, round((first - open_ms) / 1000)),)
    last_due = close_ms - cadence_ms
    if present and last_due - last > tolerance_ms:
        blocks["early_end"] = (Block(last, close_ms, round((last_due - last) / 1000)),)
    completeness = present / expected if expected else 1.0
    passed = bool(present) and not blocks and completeness >= limits.min_completeness
    return IntegrityResult(
        name="session_coverage",
        passed=passed,
        severity=WARN,
        counts={"expected_snapshots": expected, "present_snapshots": int(present)},
        blocks=blocks,
        instants={**instants, "first": first, "last": last},
        details={
            **details,
            "completeness": round(completeness, 4),
            "min_completeness": limits.min_completeness,
            "problem": None if present else "no snapshot in the session",
        },
    )


def duplicate_rows(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
    figures: StrikeFigures | None = None,
) -> IntegrityResult:
    """Natural-key duplicates in `gex_snapshots` and `gex_strikes` (ERROR).

    With `figures` (load-time figures of the strike rows, or an export manifest's) showing no
    duplicate, the strike rows are not grouped; otherwise they are, to find where.
    """
    params = day.params()
    snaps = snaps if snaps is not None else read_snapshots(con, params)
    snapshot_keys = repeated(snaps.timestamp)
    strike_keys = (
        []
        if figures is not None and figures.key_duplicates == 0
        else _fetch(
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
    )
    whole = [r[0] for r in strike_keys if r[2]]
    partial = [r[0] for r in strike_keys if not r[2]]
    counts = {
        "snapshot_key_duplicates": sum(n - 1 for _, n in snapshot_keys),
        "strike_key_duplicates": sum(r[1] for r in strike_keys),
        "repeated_snapshots": len(whole),
        "snapshots_with_duplicate_strikes": len(partial),
    }
    return IntegrityResult(
        name="duplicate_rows",
        passed=not snapshot_keys and not strike_keys,
        severity=ERROR,
        counts=counts,
        examples={
            "snapshot_key": tuple(r[0] for r in snapshot_keys[: limits.examples]),
            "repeated_snapshot": tuple(whole[: limits.examples]),
            "duplicate_strike": tuple(partial[: limits.examples]),
        },
    )


def spot_spikes(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
) -> IntegrityResult:
    """Spot spikes (reverting) and jumps (lasting) between consecutive snapshots (WARN)."""
    snaps = snaps if snaps is not None else read_snapshots(con, day.params())
    rows = spot_moves(
        snaps.timestamp[snaps.spot_ok],
        snaps.spot[snaps.spot_ok],
        limits.spike_min_move,
        limits.spike_robust_deviations * _MAD_TO_SIGMA,
    )
    spikes = [ts for ts, kind in rows if kind == "spike"]
    jumps = [ts for ts, kind in rows if kind == "jump"]
    return IntegrityResult(
        name="spot_spikes",
        passed=not rows,
        severity=WARN,
        counts={"spikes": len(spikes), "jumps": len(jumps)},
        examples={
            "spike": tuple(spikes[: limits.examples]),
            "jump": tuple(jumps[: limits.examples]),
        },
        details={
            "min_move": limits.spike_min_move,
            "robust_deviations": limits.spike_robust_deviations,
        },
    )


def zero_snapshots(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
) -> IntegrityResult:
    """Blocks of snapshots with zero sums whose strikes all have zero gamma and oi_gamma (WARN).

    Only the strike rows of the zero-sum snapshots are read (none on a day without one).
    """
    snaps = snaps if snaps is not None else read_snapshots(con, day.params())
    flag = snaps.zero_sums.copy()
    if flag.any():
        candidates = snaps.timestamp[flag]
        live = _fetch(
            con,
            f"""
            SELECT DISTINCT timestamp FROM gex_strikes
            WHERE {_SLICE} AND timestamp BETWEEN $first AND $last
              AND timestamp IN (SELECT unnest($candidates::BIGINT[]))
              AND (coalesce(gamma, 0) <> 0 OR coalesce(oi_gamma, 0) <> 0)
            """,
            {
                **day.params(),
                "first": int(candidates[0]),
                "last": int(candidates[-1]),
                "candidates": candidates.tolist(),
            },
        )
        if live:
            flag &= ~np.isin(snaps.timestamp, np.array([r[0] for r in live], dtype=np.int64))
    blocks = tuple(Block(*run) for run in runs(snaps.timestamp, flag))
    return IntegrityResult(
        name="zero_snapshots",
        passed=not blocks,
        severity=WARN,
        counts={"zero_snapshots": sum(b.length for b in blocks), "blocks": len(blocks)},
        examples={"zero_snapshot": tuple(b.start_ms for b in blocks[: limits.examples])},
        blocks={"zero": blocks},
    )


def out_of_session_rows(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
) -> IntegrityResult:
    """Snapshots outside the session (every snapshot of a day that is not a session) (WARN)."""
    instants, details = _session_details(day)
    snaps = snaps if snaps is not None else read_snapshots(con, day.params())
    open_ms, close_ms = day.window() or (0, 0)
    outside = (snaps.timestamp < open_ms) | (snaps.timestamp >= close_ms)
    blocks = tuple(Block(*run) for run in runs(snaps.timestamp, outside))
    rows = sum(b.length for b in blocks)
    return IntegrityResult(
        name="out_of_session_rows",
        passed=not blocks,
        severity=WARN,
        counts={"out_of_session_rows": rows},
        examples={"out_of_session": tuple(b.start_ms for b in blocks[: limits.examples])},
        blocks={"out_of_session": blocks},
        instants={
            **instants,
            "first": blocks[0].start_ms if blocks else None,
            "last": blocks[-1].end_ms if blocks else None,
        },
        details=details,
    )


def new_york_day_ms(day: date) -> tuple[int, int]:
    """Epoch ms of New York midnight starting `day` and the next day (DST-correct)."""
    start = datetime.combine(day, time(0), tzinfo=TRADING_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=TRADING_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def trade_date_mismatch(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    snaps: Snapshots | None = None,
    strikes: StrikeState | None = None,
) -> IntegrityResult:
    """Rows filed under `trade_date` whose timestamp falls on another New York date (ERROR).

    The strike rows are grouped only when their first or last timestamp is outside the day.
    """
    start_ms, end_ms = new_york_day_ms(day.trade_date)
    params = {**day.params(), "start_ms": start_ms, "end_ms": end_ms}
    snaps = snaps if snaps is not None else read_snapshots(con, day.params())
    outside = snaps.timestamp[(snaps.timestamp < start_ms) | (snaps.timestamp >= end_ms)]
    counts: dict[str, int] = {"gex_snapshots_rows": int(outside.size)}
    wrong: set[int] = {int(ts) for ts in outside}
    if strikes is None:
        first, last = _fetch(
            con,
            f"SELECT min(timestamp), max(timestamp) FROM gex_strikes WHERE {_SLICE}",
            day.params(),
        )[0]
    else:
        first, last = strikes.first_timestamp, strikes.last_timestamp
    rows: list[tuple] = []
    if first is not None and (first < start_ms or last >= end_ms):
        rows = _fetch(
            con,
            f"SELECT timestamp, count(*) FROM gex_strikes WHERE {_SLICE}"
            " AND (timestamp < $start_ms OR timestamp >= $end_ms) GROUP BY timestamp",
            params,
        )
    counts["gex_strikes_rows"] = sum(n for _, n in rows)
    wrong.update(ts for ts, _ in rows)
    stamps = sorted(wrong)
    return IntegrityResult(
        name="trade_date_mismatch",
        passed=not stamps,
        severity=ERROR,
        counts=counts,
        examples={"wrong_date": tuple(stamps[: limits.examples])},
    )


Reject = tuple[int | None, str, bool | None, float | None, float | None]


def read_rejects(con: duckdb.DuckDBPyConnection, day: FeedDay) -> list[Reject]:
    """The partition's `gex_history_rejects` rows in file order: timestamp, reason, differs,
    spot, kept_spot."""
    return _fetch(
        con,
        "SELECT timestamp, reason, differs, spot, kept_spot FROM gex_history_rejects"
        f" WHERE {_SLICE} ORDER BY position",
        day.params(),
    )


def _rejects(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    reasons: tuple[str, ...],
    read: list[Reject] | None,
) -> list[Reject]:
    return [r for r in (read if read is not None else read_rejects(con, day)) if r[1] in reasons]


def history_dropped_rows(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    rejects: list[Reject] | None = None,
) -> IntegrityResult:
    """Seconds the imported file holds twice with different content, unreadable timestamps (WARN).

    Identical repeats are counted but pass; every dropped row is in `gex_history_rejects`.
    """
    rows = _rejects(con, day, ("duplicate_timestamp", "bad_timestamp"), rejects)
    conflicts = [r for r in rows if r[1] == "duplicate_timestamp" and r[2]]
    bad = [r for r in rows if r[1] == "bad_timestamp"]
    first = conflicts[0] if conflicts else None
    return IntegrityResult(
        name="history_dropped_rows",
        passed=not conflicts and not bad,
        severity=WARN,
        counts={
            "conflicting_duplicates": len(conflicts),
            "identical_duplicates": sum(1 for r in rows if r[1] == "duplicate_timestamp")
            - len(conflicts),
            "bad_timestamps": len(bad),
        },
        examples={"conflicting_second": tuple(r[0] for r in conflicts[: limits.examples] if r[0])},
        details={
            "first_conflict_kept_spot": first[4] if first else None,
            "first_conflict_dropped_spot": first[3] if first else None,
            "table": "gex_history_rejects",
        },
    )


def history_foreign_rows(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = Thresholds(),
    rejects: list[Reject] | None = None,
) -> IntegrityResult:
    """Rows of another date, ticker or endpoint in the imported day file (ERROR for the file)."""
    rows = _rejects(con, day, ("wrong_date", "wrong_ticker", "wrong_endpoint"), rejects)
    counts = {
        reason: sum(1 for r in rows if r[1] == reason)
        for reason in ("wrong_date", "wrong_ticker", "wrong_endpoint")
    }
    stamps = sorted(r[0] for r in rows if r[0] is not None)
    return IntegrityResult(
        name="history_foreign_rows",
        passed=not rows,
        severity=ERROR,
        counts=counts,
        examples={"foreign_row": tuple(stamps[: limits.examples])},
        instants={"first": stamps[0] if stamps else None, "last": stamps[-1] if stamps else None},
        details={"table": "gex_history_rejects"},
    )


def live_history_drift(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> IntegrityResult:
    """Replaced live snapshots whose spot / zero_gamma differ from the imported ones (WARN)."""
    params = {
        **day.params(),
        "spot_tol": limits.drift_spot_tolerance,
        "zg_tol": limits.drift_zero_gamma_tolerance,
    }
    shadowed = _fetch(con, f"SELECT count(*) FROM gex_live_shadow WHERE {_SLICE}", day.params())
    rows = (
        []
        if not shadowed[0][0]
        else _fetch(
            con,
            """
        WITH d AS (
            SELECT h.timestamp,
                   abs(h.spot / nullif(l.spot, 0) - 1) AS spot_diff,
                   abs(h.zero_gamma - l.zero_gamma) / greatest(abs(l.zero_gamma), 1e-9) AS zg_diff
            FROM gex_snapshots h JOIN gex_live_shadow l USING (ticker, endpoint, timestamp)
            WHERE h.ticker = $ticker AND h.endpoint = $endpoint AND h.trade_date = $trade_date
              AND h.source = 'history'
        )
        SELECT timestamp, spot_diff, zg_diff,
               coalesce(spot_diff > $spot_tol, false) OR coalesce(zg_diff > $zg_tol, false)
        FROM d ORDER BY timestamp
        """,
            params,
        )
    )
    differing = [r for r in rows if r[3]]
    return IntegrityResult(
        name="live_history_drift",
        passed=not differing,
        severity=WARN,
        counts={"compared_snapshots": len(rows), "differing_snapshots": len(differing)},
        examples={"differing": tuple(r[0] for r in differing[: limits.examples])},
        instants={
            "first": differing[0][0] if differing else None,
            "last": differing[-1][0] if differing else None,
        },
        details={
            "max_spot_diff": max((r[1] for r in rows if r[1] is not None), default=None),
            "max_zero_gamma_diff": max((r[2] for r in rows if r[2] is not None), default=None),
            "spot_tolerance": limits.drift_spot_tolerance,
            "zero_gamma_tolerance": limits.drift_zero_gamma_tolerance,
        },
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
    held_back: Collection[str] = (),
    figures: StrikeFigures | None = None,
    use_manifest: bool = True,
) -> IntegrityResult:
    """Row count and checksum of the partition's Parquet file against `gex_strikes` (ERROR).

    The checksum is the sum of DuckDB's `hash()` of every exported column of each row, so it does
    not depend on row order. A partition with no rows and no file passes, and so does a missing
    file of a partition `held_back` from publishing by failed ERROR checks (they report it); a
    missing or unreadable file for a partition with rows fails otherwise.

    `figures` (the partition's load-time figures, `partition_figures.current_figures`) stand for
    the `gex_strikes` rows; the file's export manifest stands for the file while the file is the
    one the export wrote (`parquet_manifest.file_state`) unless `use_manifest` is False. Either side
    without them is scanned.
    """
    path = parquet_path(parquet_root, day.ticker, day.endpoint, day.trade_date)
    details: dict[str, str | float | None] = {"path": str(path)}
    if figures is None:
        stored = _fetch(
            con, f"SELECT count(*), sum({_ROW_HASH}) FROM gex_strikes WHERE {_SLICE}", day.params()
        )
        db_rows, db_sum = int(stored[0][0]), stored[0][1]
        details["duckdb_figures"] = "scanned"
    else:
        db_rows, db_sum = figures.rows, figures.content_hash if figures.rows else None
        details["duckdb_figures"] = "load-time"
    if not path.exists():
        details["problem"] = "parquet file missing" if db_rows else None
        if db_rows and held_back:
            details["problem"] = f"not exported: held back by {', '.join(held_back)}"
        return IntegrityResult(
            name="parquet_reconciliation",
            passed=db_rows == 0 or bool(held_back),
            severity=ERROR,
            counts={"duckdb_rows": db_rows, "parquet_rows": 0},
            details=details,
        )
    exported_state = file_state(path) if use_manifest else None
    exported = None if exported_state is None else exported_state.figures
    if exported is None:
        pq_rows, pq_sum, error = _parquet_sums(con, path)
        details["parquet_figures"] = "scanned"
    else:
        pq_rows, pq_sum, error = exported.rows, exported.content_hash, None
        details["parquet_figures"] = "export manifest"
    passed = error is None and pq_rows == db_rows and pq_sum == db_sum
    differing = [] if passed or error else _differing_timestamps(con, day, path, limits.examples)
    details["problem"] = error or (None if passed else "rows differ")
    return IntegrityResult(
        name="parquet_reconciliation",
        passed=passed,
        severity=ERROR,
        counts={"duckdb_rows": db_rows, "parquet_rows": pq_rows},
        examples={"differing_timestamp": tuple(differing)},
        details=details,
    )


Check = Callable[["duckdb.DuckDBPyConnection", FeedDay, Thresholds], IntegrityResult]

# Checks that need only the partition's `gex_snapshots` / `gex_strikes` rows (they also run over
# the Parquet files, see `gex_pipeline.lib.gex.validate`), in report order.
TABLE_CHECKS: dict[str, Check] = {
    "timestamp_gaps": timestamp_gaps,
    "session_coverage": session_coverage,
    "duplicate_rows": duplicate_rows,
    "spot_spikes": spot_spikes,
    "zero_snapshots": zero_snapshots,
    "out_of_session_rows": out_of_session_rows,
    "trade_date_mismatch": trade_date_mismatch,
}
# Checks that read what imports kept aside (tables only in the database).
IMPORT_CHECKS: dict[str, Check] = {
    "history_dropped_rows": history_dropped_rows,
    "history_foreign_rows": history_foreign_rows,
    "live_history_drift": live_history_drift,
}
CHECK_NAMES: tuple[str, ...] = (*TABLE_CHECKS, *IMPORT_CHECKS, "parquet_reconciliation")
# Import checks that read `gex_history_rejects`.
_REJECT_CHECKS = ("history_dropped_rows", "history_foreign_rows")
# ERROR checks judged before the export: a failure keeps the partition out of Parquet.
PUBLISH_GATES: tuple[str, ...] = ("duplicate_rows", "trade_date_mismatch", "history_foreign_rows")


@dataclass(frozen=True)
class SharedReads:
    """What several checks of a partition read, read once: the snapshots, the strike rows'
    figures and span, the import's rejects."""

    snaps: Snapshots
    strikes: StrikeState
    rejects: list[Reject]

    def arguments(self, name: str) -> dict[str, object]:
        """The shared reads the check `name` takes, as keyword arguments."""
        if name in _REJECT_CHECKS:
            return {"rejects": self.rejects}
        if name not in TABLE_CHECKS:
            return {}
        extra = {
            "duplicate_rows": {"figures": self.strikes.figures},
            "trade_date_mismatch": {"strikes": self.strikes},
        }
        return {"snaps": self.snaps, **extra.get(name, {})}


def read_shared(con: duckdb.DuckDBPyConnection, day: FeedDay) -> SharedReads:
    """Read what the checks of `day` share (three queries)."""
    return SharedReads(
        snaps=read_snapshots(con, day.params()),
        strikes=strike_state(con, day.ticker, day.endpoint, day.trade_date),
        rejects=read_rejects(con, day),
    )


def partition_checks(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    parquet_root: Path,
    limits: Thresholds = Thresholds(),
    names: Collection[str] | None = None,
    rescan: bool = False,
) -> list[IntegrityResult]:
    """The checks `names` (default: every check) of one partition, in a stable order.

    `rescan` reads every strike row and the Parquet file instead of the figures kept at load and
    export time: it also finds changes made behind the pipeline that keep the row count (an
    UPDATE of `gex_strikes`), at the cost of the full scans.
    """
    wanted = set(CHECK_NAMES) if names is None else set(names)
    unknown = sorted(wanted - set(CHECK_NAMES))
    if unknown:
        raise ValueError(f"names: unknown check(s) {', '.join(unknown)}")
    shared = read_shared(con, day)
    if rescan:
        shared = replace(shared, strikes=replace(shared.strikes, figures=None))
    checks = {**TABLE_CHECKS, **IMPORT_CHECKS}
    results = [
        check(con, day, limits, **shared.arguments(name))
        for name, check in checks.items()
        if name in wanted
    ]
    if "parquet_reconciliation" in wanted:
        gates = [r for r in results if r.name in PUBLISH_GATES]
        if len(gates) < len(PUBLISH_GATES):
            gates = publish_blockers(con, day, limits)
        held_back = [r.name for r in gates if not r.passed]
        results.append(
            parquet_reconciliation(
                con,
                day,
                parquet_root,
                limits,
                held_back,
                figures=shared.strikes.figures,
                use_manifest=not rescan,
            )
        )
    return results


def publish_blockers(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = Thresholds()
) -> list[IntegrityResult]:
    """The failed `PUBLISH_GATES` checks of a partition: non-empty means do not export it."""
    results = partition_checks(con, day, Path(), limits, names=PUBLISH_GATES)
    return [r for r in results if not r.passed]
