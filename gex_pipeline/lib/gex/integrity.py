"""Data-integrity checks of one date x feed partition, in SQL over a DuckDB connection.

Every check is declared once in a registry (`GEX_CHECKS`, `CheckRegistry`): its name, the severity
a failure carries, the table or file it judges, the tables it reads, the description the UI shows,
whether a failure keeps the partition out of Parquet (`gate`), and its evaluation. Evaluations
read the partition through a `PartitionContext`, which reads what the checks share (the snapshots,
the strike rows' figures and span, the import's rejects) once per partition. Each check returns an
`IntegrityResult`: passed, severity, counts, example timestamps, blocks of defects (start, end,
length) and details. Timestamps are epoch ms; `ny_iso` formats them. Nothing is written. The
session (open, close, early close, holidays) comes from the exchange calendar
(`gex_pipeline.lib.calendar.sessions`). The webhook domain declares its checks with the same
registry (`gex_pipeline.lib.webhooks.integrity`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gex_pipeline.lib.calendar.trading_date import TRADING_TZ
from gex_pipeline.lib.checks.registry import (
    ERROR,
    WARN,
    Block,
    CheckRegistry,
    IntegrityCheck,
    IntegrityResult,
)
from gex_pipeline.lib.gex.feed_day import SLICE_SQL, FeedDay
from gex_pipeline.lib.gex.parquet_export import parquet_path
from gex_pipeline.lib.gex.parquet_manifest import file_state
from gex_pipeline.lib.gex.partition_figures import (
    ROW_HASH,
    StrikeFigures,
    StrikeState,
    strike_state,
)
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

# What the checks judge and read.
SNAPSHOTS, STRIKES, PARQUET = "gex_snapshots", "gex_strikes", "gex_parquet"
REJECTS, LIVE_SHADOW = "gex_history_rejects", "gex_live_shadow"
FIGURES = "gex_partition_figures"

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


def ny_iso(epoch_ms: int) -> str:
    """ISO-8601 New York time of an epoch-ms timestamp, e.g. `2025-11-14T09:31:07.000-05:00`."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(TRADING_TZ)
    return moment.isoformat(timespec="milliseconds")


_DEFAULTS = Thresholds()


Reject = tuple[int | None, str, bool | None, float | None, float | None]


def read_rejects(con: duckdb.DuckDBPyConnection, day: FeedDay) -> list[Reject]:
    """The partition's `gex_history_rejects` rows in file order: timestamp, reason, differs,
    spot, kept_spot."""
    return con.execute(
        f"SELECT timestamp, reason, differs, spot, kept_spot FROM {REJECTS}"
        f" WHERE {SLICE_SQL} ORDER BY position",
        day.params(),
    ).fetchall()


class PartitionContext:
    """One partition being judged: its connection, the thresholds, and what several checks read,
    each read once, on first use, unless given (the snapshots, the import's rejects).

    `strikes` (the strike rows' figures and span) stands for the strike rows when given; without
    it the checks read the rows. `parquet_root` and `use_manifest` serve `parquet_reconciliation`.
    Verdicts given by `judge` are kept: the publish gates the reconciliation needs are judged once.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        day: FeedDay,
        limits: Thresholds = _DEFAULTS,
        *,
        snaps: Snapshots | None = None,
        strikes: StrikeState | None = None,
        rejects: list[Reject] | None = None,
        parquet_root: Path = Path(),
        use_manifest: bool = True,
    ) -> None:
        self.con, self.day, self.limits = con, day, limits
        self.strikes, self.parquet_root, self.use_manifest = strikes, parquet_root, use_manifest
        self._snaps, self._rejects = snaps, rejects
        self._judged: dict[str, IntegrityResult] = {}

    @property
    def snaps(self) -> Snapshots:
        """The partition's snapshots (read on first use)."""
        if self._snaps is None:
            self._snaps = read_snapshots(self.con, self.day.params())
        return self._snaps

    @property
    def rejects(self) -> list[Reject]:
        """The import's rejects of the partition (read on first use)."""
        if self._rejects is None:
            self._rejects = read_rejects(self.con, self.day)
        return self._rejects

    @property
    def figures(self) -> StrikeFigures | None:
        """The strike rows' figures, when known and current."""
        return None if self.strikes is None else self.strikes.figures

    def fetch(self, sql: str, **params: object) -> list[tuple]:
        """Rows of `sql`, with `$ticker`, `$endpoint`, `$trade_date` and `params` bound."""
        return self.con.execute(sql, {**self.day.params(), **params}).fetchall()

    def judge(self, check: IntegrityCheck[PartitionContext]) -> IntegrityResult:
        """The check's result on this partition, evaluated once."""
        if check.name not in self._judged:
            self._judged[check.name] = check.run(self)
        return self._judged[check.name]

    def held_back(self) -> list[str]:
        """The publish gates this partition fails (a failed one keeps it out of Parquet)."""
        gates = GEX_CHECKS.select(GEX_CHECKS.gates)
        return [gate.name for gate in gates if not self.judge(gate).passed]


GEX_CHECKS: CheckRegistry[PartitionContext] = CheckRegistry(PartitionContext)


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


def new_york_day_ms(day: date) -> tuple[int, int]:
    """Epoch ms of New York midnight starting `day` and the next day (DST-correct)."""
    start = datetime.combine(day, time(0), tzinfo=TRADING_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=TRADING_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


@GEX_CHECKS.check("timestamp_gaps", WARN, judges=SNAPSHOTS, reads=(SNAPSHOTS,))
def timestamp_gaps(c: PartitionContext) -> IntegrityResult:
    """No two consecutive in-session snapshots (exchange calendar) further apart than
    max_gap_seconds; gaps are listed as blocks."""
    # Each gap is a block from the last snapshot before it to the first after it.
    cadence_ms = round(c.limits.cadence_seconds * 1000)
    rows = gaps(_in_session(c.snaps, c.day), round(c.limits.max_gap_seconds * 1000))
    blocks = tuple(Block(b, a, round((a - b - cadence_ms) / 1000)) for b, a in rows)
    longest = max(blocks, key=lambda g: (g.length, -g.start_ms), default=None)
    return IntegrityResult(
        passed=not rows,
        counts={"gaps": len(rows), "missing_seconds": sum(g.length for g in blocks)},
        examples={"gap_after": tuple(g.start_ms for g in blocks[: c.limits.examples])},
        blocks={"gap": blocks},
        instants={
            "longest_gap_after": longest.start_ms if longest else None,
            "longest_gap_resumed": longest.end_ms if longest else None,
        },
        details={
            "max_gap_seconds": c.limits.max_gap_seconds,
            "longest_gap_seconds": longest.length if longest else None,
        },
    )


@GEX_CHECKS.check("session_coverage", WARN, judges=SNAPSHOTS, reads=(SNAPSHOTS,))
def session_coverage(c: PartitionContext) -> IntegrityResult:
    """Snapshots start at the session's open and end at its close (early closes included) and at
    least min_completeness of the expected snapshots at the feed's cadence are present."""
    # A late start or an early end counts beyond `max_gap_seconds`.
    instants, details = _session_details(c.day)
    window = c.day.window()
    if window is None:
        return IntegrityResult(passed=True, counts={}, details=details)
    open_ms, close_ms = window
    inside = _in_session(c.snaps, c.day)
    present = int(inside.size)
    first = int(inside[0]) if present else None
    last = int(inside[-1]) if present else None
    cadence_ms = round(c.limits.cadence_seconds * 1000)
    tolerance_ms = round(c.limits.max_gap_seconds * 1000)
    expected = (close_ms - open_ms) // cadence_ms
    blocks: dict[str, tuple[Block, ...]] = {}
    if present and first - open_ms > tolerance_ms:
        blocks["late_start"] = (Block(open_ms, first, round((first - open_ms) / 1000)),)
    last_due = close_ms - cadence_ms
    if present and last_due - last > tolerance_ms:
        blocks["early_end"] = (Block(last, close_ms, round((last_due - last) / 1000)),)
    completeness = present / expected if expected else 1.0
    return IntegrityResult(
        passed=bool(present) and not blocks and completeness >= c.limits.min_completeness,
        counts={"expected_snapshots": expected, "present_snapshots": int(present)},
        blocks=blocks,
        instants={**instants, "first": first, "last": last},
        details={
            **details,
            "completeness": round(completeness, 4),
            "min_completeness": c.limits.min_completeness,
            "problem": None if present else "no snapshot in the session",
        },
    )


@GEX_CHECKS.check("duplicate_rows", ERROR, judges=STRIKES, reads=(SNAPSHOTS, STRIKES), gate=True)
def duplicate_rows(c: PartitionContext) -> IntegrityResult:
    """No natural-key duplicate in gex_snapshots (ticker, endpoint, timestamp) or gex_strikes (+
    strike): no snapshot stored twice, no strike repeated in a snapshot."""
    # The strike rows are grouped (to find where) unless their figures (load-time, or an export
    # manifest's) show no duplicate.
    snapshot_keys = repeated(c.snaps.timestamp)
    strike_keys = (
        []
        if c.figures is not None and c.figures.key_duplicates == 0
        else c.fetch(
            f"""
        WITH k AS (
            SELECT timestamp, strike, count(*) AS n FROM {STRIKES} WHERE {SLICE_SQL}
            GROUP BY timestamp, strike
        )
        SELECT timestamp, sum(n - 1)::BIGINT AS extra, min(n) > 1 AS whole_snapshot
        FROM k GROUP BY timestamp HAVING max(n) > 1 ORDER BY timestamp
        """
        )
    )
    whole = [r[0] for r in strike_keys if r[2]]
    partial = [r[0] for r in strike_keys if not r[2]]
    return IntegrityResult(
        passed=not snapshot_keys and not strike_keys,
        counts={
            "snapshot_key_duplicates": sum(n - 1 for _, n in snapshot_keys),
            "strike_key_duplicates": sum(r[1] for r in strike_keys),
            "repeated_snapshots": len(whole),
            "snapshots_with_duplicate_strikes": len(partial),
        },
        examples={
            "snapshot_key": tuple(r[0] for r in snapshot_keys[: c.limits.examples]),
            "repeated_snapshot": tuple(whole[: c.limits.examples]),
            "duplicate_strike": tuple(partial[: c.limits.examples]),
        },
    )


@GEX_CHECKS.check("spot_spikes", WARN, judges=SNAPSHOTS, reads=(SNAPSHOTS,))
def spot_spikes(c: PartitionContext) -> IntegrityResult:
    """No spot move between consecutive snapshots beyond both spike_min_move and
    spike_robust_deviations robust deviations (spikes revert, jumps stay)."""
    # A move counts when larger than both `spike_min_move` and `spike_robust_deviations` x the
    # robust deviation (1.4826 x MAD) of the day's moves; a move that reverts at the next snapshot
    # is a spike, one that stays a jump.
    snaps = c.snaps
    rows = spot_moves(
        snaps.timestamp[snaps.spot_ok],
        snaps.spot[snaps.spot_ok],
        c.limits.spike_min_move,
        c.limits.spike_robust_deviations * _MAD_TO_SIGMA,
    )
    spikes = [ts for ts, kind in rows if kind == "spike"]
    jumps = [ts for ts, kind in rows if kind == "jump"]
    return IntegrityResult(
        passed=not rows,
        counts={"spikes": len(spikes), "jumps": len(jumps)},
        examples={
            "spike": tuple(spikes[: c.limits.examples]),
            "jump": tuple(jumps[: c.limits.examples]),
        },
        details={
            "min_move": c.limits.spike_min_move,
            "robust_deviations": c.limits.spike_robust_deviations,
        },
    )


@GEX_CHECKS.check("zero_snapshots", WARN, judges=SNAPSHOTS, reads=(SNAPSHOTS, STRIKES))
def zero_snapshots(c: PartitionContext) -> IntegrityResult:
    """No snapshot whose sums and every strike's gamma and oi_gamma are 0 (blocks listed)."""
    # Only the strike rows of the zero-sum snapshots are read (none on a day without one).
    snaps = c.snaps
    flag = snaps.zero_sums.copy()
    if flag.any():
        candidates = snaps.timestamp[flag]
        live = c.fetch(
            f"""
            SELECT DISTINCT timestamp FROM {STRIKES}
            WHERE {SLICE_SQL} AND timestamp BETWEEN $first AND $last
              AND timestamp IN (SELECT unnest($candidates::BIGINT[]))
              AND (coalesce(gamma, 0) <> 0 OR coalesce(oi_gamma, 0) <> 0)
            """,
            first=int(candidates[0]),
            last=int(candidates[-1]),
            candidates=candidates.tolist(),
        )
        if live:
            flag &= ~np.isin(snaps.timestamp, np.array([r[0] for r in live], dtype=np.int64))
    blocks = tuple(Block(*run) for run in runs(snaps.timestamp, flag))
    return IntegrityResult(
        passed=not blocks,
        counts={"zero_snapshots": sum(b.length for b in blocks), "blocks": len(blocks)},
        examples={"zero_snapshot": tuple(b.start_ms for b in blocks[: c.limits.examples])},
        blocks={"zero": blocks},
    )


@GEX_CHECKS.check("out_of_session_rows", WARN, judges=SNAPSHOTS, reads=(SNAPSHOTS,))
def out_of_session_rows(c: PartitionContext) -> IntegrityResult:
    """No snapshot outside the session's open-close (exchange calendar), none on a holiday."""
    instants, details = _session_details(c.day)
    stamps = c.snaps.timestamp
    open_ms, close_ms = c.day.window() or (0, 0)
    blocks = tuple(Block(*run) for run in runs(stamps, (stamps < open_ms) | (stamps >= close_ms)))
    return IntegrityResult(
        passed=not blocks,
        counts={"out_of_session_rows": sum(b.length for b in blocks)},
        examples={"out_of_session": tuple(b.start_ms for b in blocks[: c.limits.examples])},
        blocks={"out_of_session": blocks},
        instants={
            **instants,
            "first": blocks[0].start_ms if blocks else None,
            "last": blocks[-1].end_ms if blocks else None,
        },
        details=details,
    )


@GEX_CHECKS.check(
    "trade_date_mismatch", ERROR, judges=SNAPSHOTS, reads=(SNAPSHOTS, STRIKES), gate=True
)
def trade_date_mismatch(c: PartitionContext) -> IntegrityResult:
    """Every snapshot and strike row's trade_date is the New York date of its timestamp."""
    # The strike rows are grouped only when their first or last timestamp is outside the day.
    start_ms, end_ms = new_york_day_ms(c.day.trade_date)
    stamps = c.snaps.timestamp
    outside = stamps[(stamps < start_ms) | (stamps >= end_ms)]
    counts: dict[str, int] = {"gex_snapshots_rows": int(outside.size)}
    wrong: set[int] = {int(ts) for ts in outside}
    if c.strikes is None:
        first, last = c.fetch(
            f"SELECT min(timestamp), max(timestamp) FROM {STRIKES} WHERE {SLICE_SQL}"
        )[0]
    else:
        first, last = c.strikes.first_timestamp, c.strikes.last_timestamp
    rows: list[tuple] = []
    if first is not None and (first < start_ms or last >= end_ms):
        rows = c.fetch(
            f"SELECT timestamp, count(*) FROM {STRIKES} WHERE {SLICE_SQL}"
            " AND (timestamp < $start_ms OR timestamp >= $end_ms) GROUP BY timestamp",
            start_ms=start_ms,
            end_ms=end_ms,
        )
    counts["gex_strikes_rows"] = sum(n for _, n in rows)
    wrong.update(ts for ts, _ in rows)
    stamps = sorted(wrong)
    return IntegrityResult(
        passed=not stamps,
        counts=counts,
        examples={"wrong_date": tuple(stamps[: c.limits.examples])},
    )


def _rejects(c: PartitionContext, reasons: tuple[str, ...]) -> list[Reject]:
    return [r for r in c.rejects if r[1] in reasons]


@GEX_CHECKS.check("history_dropped_rows", WARN, judges=SNAPSHOTS, reads=(REJECTS,))
def history_dropped_rows(c: PartitionContext) -> IntegrityResult:
    """The imported day file holds no second twice with different content and no unreadable
    timestamp (dropped rows are kept in gex_history_rejects)."""
    # Identical repeats are counted but pass; every dropped row is in `gex_history_rejects`.
    rows = _rejects(c, ("duplicate_timestamp", "bad_timestamp"))
    conflicts = [r for r in rows if r[1] == "duplicate_timestamp" and r[2]]
    bad = [r for r in rows if r[1] == "bad_timestamp"]
    first = conflicts[0] if conflicts else None
    return IntegrityResult(
        passed=not conflicts and not bad,
        counts={
            "conflicting_duplicates": len(conflicts),
            "identical_duplicates": sum(1 for r in rows if r[1] == "duplicate_timestamp")
            - len(conflicts),
            "bad_timestamps": len(bad),
        },
        examples={
            "conflicting_second": tuple(r[0] for r in conflicts[: c.limits.examples] if r[0])
        },
        details={
            "first_conflict_kept_spot": first[4] if first else None,
            "first_conflict_dropped_spot": first[3] if first else None,
            "table": REJECTS,
        },
    )


@GEX_CHECKS.check("history_foreign_rows", ERROR, judges=SNAPSHOTS, reads=(REJECTS,), gate=True)
def history_foreign_rows(c: PartitionContext) -> IntegrityResult:
    """The imported day file holds no row of another date, ticker or endpoint (kept in
    gex_history_rejects)."""
    reasons = ("wrong_date", "wrong_ticker", "wrong_endpoint")
    rows = _rejects(c, reasons)
    stamps = sorted(r[0] for r in rows if r[0] is not None)
    return IntegrityResult(
        passed=not rows,
        counts={reason: sum(1 for r in rows if r[1] == reason) for reason in reasons},
        examples={"foreign_row": tuple(stamps[: c.limits.examples])},
        instants={"first": stamps[0] if stamps else None, "last": stamps[-1] if stamps else None},
        details={"table": REJECTS},
    )


@GEX_CHECKS.check("live_history_drift", WARN, judges=SNAPSHOTS, reads=(SNAPSHOTS, LIVE_SHADOW))
def live_history_drift(c: PartitionContext) -> IntegrityResult:
    """Live snapshots replaced by a history import agree with the imported ones on spot and
    zero_gamma within the drift tolerances."""
    # Compares the imported rows with the live ones kept in `gex_live_shadow`.
    limits = c.limits
    shadowed = c.fetch(f"SELECT count(*) FROM {LIVE_SHADOW} WHERE {SLICE_SQL}")
    rows = (
        []
        if not shadowed[0][0]
        else c.fetch(
            f"""
        WITH d AS (
            SELECT h.timestamp,
                   abs(h.spot / nullif(l.spot, 0) - 1) AS spot_diff,
                   abs(h.zero_gamma - l.zero_gamma) / greatest(abs(l.zero_gamma), 1e-9) AS zg_diff
            FROM {SNAPSHOTS} h JOIN {LIVE_SHADOW} l USING (ticker, endpoint, timestamp)
            WHERE h.ticker = $ticker AND h.endpoint = $endpoint AND h.trade_date = $trade_date
              AND h.source = 'history'
        )
        SELECT timestamp, spot_diff, zg_diff,
               coalesce(spot_diff > $spot_tol, false) OR coalesce(zg_diff > $zg_tol, false)
        FROM d ORDER BY timestamp
        """,
            spot_tol=limits.drift_spot_tolerance,
            zg_tol=limits.drift_zero_gamma_tolerance,
        )
    )
    differing = [r for r in rows if r[3]]
    return IntegrityResult(
        passed=not differing,
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
        row = con.execute(f"SELECT count(*), sum({ROW_HASH}) FROM read_parquet('{source}')")
        count, checksum = row.fetchone() or (0, None)
    except duckdb.Error as exc:
        return 0, None, str(exc).strip().splitlines()[0][:300]
    return int(count), checksum, None


def _differing_timestamps(c: PartitionContext, path: Path) -> list[int]:
    """Timestamps whose rows differ between DuckDB and the Parquet file (first `examples`)."""
    source = str(path).replace("'", "''")
    rows = c.fetch(
        f"""
        WITH d AS (
            SELECT timestamp, count(*) AS n, sum({ROW_HASH}) AS h FROM {STRIKES}
            WHERE {SLICE_SQL} GROUP BY timestamp
        ),
        p AS (
            SELECT timestamp, count(*) AS n, sum({ROW_HASH}) AS h
            FROM read_parquet('{source}') GROUP BY timestamp
        )
        SELECT coalesce(d.timestamp, p.timestamp) AS ts FROM d FULL JOIN p USING (timestamp)
        WHERE d.n IS DISTINCT FROM p.n OR d.h IS DISTINCT FROM p.h
        ORDER BY ts LIMIT {int(c.limits.examples)}
        """
    )
    return [r[0] for r in rows]


def _reconcile(c: PartitionContext, held_back: Collection[str]) -> IntegrityResult:
    """The row count and checksum of the partition's Parquet file against `gex_strikes`."""
    path = parquet_path(c.parquet_root, c.day.ticker, c.day.endpoint, c.day.trade_date)
    details: dict[str, str | float | None] = {"path": str(path)}
    if c.figures is None:
        stored = c.fetch(f"SELECT count(*), sum({ROW_HASH}) FROM {STRIKES} WHERE {SLICE_SQL}")
        db_rows, db_sum = int(stored[0][0]), stored[0][1]
        details["duckdb_figures"] = "scanned"
    else:
        db_rows, db_sum = c.figures.rows, c.figures.content_hash if c.figures.rows else None
        details["duckdb_figures"] = "load-time"
    if not path.exists():
        details["problem"] = "parquet file missing" if db_rows else None
        if db_rows and held_back:
            details["problem"] = f"not exported: held back by {', '.join(held_back)}"
        return IntegrityResult(
            passed=db_rows == 0 or bool(held_back),
            counts={"duckdb_rows": db_rows, "parquet_rows": 0},
            details=details,
        )
    exported_state = file_state(path) if c.use_manifest else None
    exported = None if exported_state is None else exported_state.figures
    if exported is None:
        pq_rows, pq_sum, error = _parquet_sums(c.con, path)
        details["parquet_figures"] = "scanned"
    else:
        pq_rows, pq_sum, error = exported.rows, exported.content_hash, None
        details["parquet_figures"] = "export manifest"
    passed = error is None and pq_rows == db_rows and pq_sum == db_sum
    differing = [] if passed or error else _differing_timestamps(c, path)
    details["problem"] = error or (None if passed else "rows differ")
    return IntegrityResult(
        passed=passed,
        counts={"duckdb_rows": db_rows, "parquet_rows": pq_rows},
        examples={"differing_timestamp": tuple(differing)},
        details=details,
    )


@GEX_CHECKS.check("parquet_reconciliation", ERROR, judges=PARQUET, reads=(STRIKES, PARQUET))
def _reconciliation(c: PartitionContext) -> IntegrityResult:
    """The partition's Parquet file holds exactly the gex_strikes rows (count and checksum)."""
    # A missing file is excused while the partition fails a publish gate.
    return _reconcile(c, c.held_back())


def parquet_reconciliation(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    parquet_root: Path,
    limits: Thresholds = _DEFAULTS,
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
    strikes = None if figures is None else StrikeState(figures, None, None)
    context = PartitionContext(
        con, day, limits, strikes=strikes, parquet_root=parquet_root, use_manifest=use_manifest
    )
    return _reconciliation.result(_reconcile(context, held_back))


# Checks that need only the partition's `gex_snapshots` / `gex_strikes` rows (they also run over
# the Parquet files, see `gex_pipeline.lib.gex.validate`), in report order.
TABLE_CHECKS: dict[str, IntegrityCheck[PartitionContext]] = {
    name: check
    for name, check in GEX_CHECKS.checks.items()
    if set(check.reads) <= {SNAPSHOTS, STRIKES}
}
CHECK_NAMES: tuple[str, ...] = GEX_CHECKS.names
# ERROR checks judged before the export: a failure keeps the partition out of Parquet.
PUBLISH_GATES: tuple[str, ...] = GEX_CHECKS.gates
# The lake tables a reader of a feed-day needs for its checks and its export: what the checks
# read, and the strike figures (`strike_state`, the export's byte copy). Each table a reader
# attaches is opened (a round trip per commit since its checkpoint on object storage).
CHECKED_TABLES: tuple[str, ...] = tuple(
    sorted({t for c in GEX_CHECKS.checks.values() for t in c.reads if t != PARQUET} | {FIGURES})
)


def read_shared(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    limits: Thresholds = _DEFAULTS,
    parquet_root: Path = Path(),
    rescan: bool = False,
) -> PartitionContext:
    """The context of `day` with what its checks share read up front (three queries).

    `rescan` drops the strike rows' figures and the export manifest, see `partition_checks`.
    """
    snaps = read_snapshots(con, day.params())
    strikes = strike_state(con, day.ticker, day.endpoint, day.trade_date)
    return PartitionContext(
        con,
        day,
        limits,
        snaps=snaps,
        strikes=replace(strikes, figures=None) if rescan else strikes,
        rejects=read_rejects(con, day),
        parquet_root=parquet_root,
        use_manifest=not rescan,
    )


def partition_checks(
    con: duckdb.DuckDBPyConnection,
    day: FeedDay,
    parquet_root: Path,
    limits: Thresholds = _DEFAULTS,
    names: Collection[str] | None = None,
    rescan: bool = False,
) -> list[IntegrityResult]:
    """The checks `names` (default: every check) of one partition, in a stable order, over one
    read of what they share.

    `rescan` reads every strike row and the Parquet file instead of the figures kept at load and
    export time: it also finds changes made behind the pipeline that keep the row count (an
    UPDATE of `gex_strikes`), at the cost of the full scans.
    """
    checks = GEX_CHECKS.select(names)
    context = read_shared(con, day, limits, parquet_root, rescan)
    return [context.judge(check) for check in checks]


def publish_blockers(
    con: duckdb.DuckDBPyConnection, day: FeedDay, limits: Thresholds = _DEFAULTS
) -> list[IntegrityResult]:
    """The failed `PUBLISH_GATES` checks of a partition: non-empty means do not export it."""
    results = partition_checks(con, day, Path(), limits, names=PUBLISH_GATES)
    return [r for r in results if not r.passed]
