"""One read of a partition's snapshots, and the array arithmetic the snapshot-level checks share.

`read_snapshots` fetches the partition's `gex_snapshots` rows once, in timestamp order, as numpy
arrays (timestamp, spot, whether spot is usable, whether both sums are zero); the checks of
`gex_pipeline.lib.gex.integrity` then compute gaps, coverage, spikes, zero blocks, out-of-session
rows and wrong-date rows from those arrays instead of one SQL query each. The arithmetic is the
SQL's: the same IEEE divisions, and `mad` is the median of absolute deviations from the median
(interpolated on even counts, as DuckDB's `mad` and `numpy.median` both do).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gex_pipeline.lib.gex.feed_day import SLICE_SQL

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Snapshots:
    """A partition's snapshots in timestamp order: epoch ms, spot, usable spot, zero sums."""

    timestamp: np.ndarray
    spot: np.ndarray
    spot_ok: np.ndarray
    zero_sums: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamp)


def read_snapshots(
    con: duckdb.DuckDBPyConnection, params: dict[str, object], source: str = "gex_snapshots"
) -> Snapshots:
    """The snapshots of the partition `params` (`$ticker`, `$endpoint`, `$trade_date`) of
    `source`, in one query, in timestamp order. `spot_ok` is `spot > 0` (NULL is not usable);
    `zero_sums` is `sum_gex_vol` and `sum_gex_oi` both 0 or NULL."""
    arrays = con.execute(
        f"""
        SELECT timestamp, coalesce(spot, 0)::DOUBLE AS spot, coalesce(spot > 0, false) AS spot_ok,
               coalesce(sum_gex_vol, 0) = 0 AND coalesce(sum_gex_oi, 0) = 0 AS zero_sums
        FROM {source} WHERE {SLICE_SQL}
        """,
        params,
    ).fetchnumpy()
    # rows usually arrive in timestamp order (as stored, as exported): sorted only when they do not
    return _in_timestamp_order(
        {
            "timestamp": np.asarray(arrays["timestamp"], dtype=np.int64),
            "spot": np.asarray(arrays["spot"], dtype=np.float64),
            "spot_ok": np.asarray(arrays["spot_ok"], dtype=bool),
            "zero_sums": np.asarray(arrays["zero_sums"], dtype=bool),
        }
    )


def read_snapshot_files(
    con: duckdb.DuckDBPyConnection, files: dict[date, Path], ticker: str, endpoint: str
) -> dict[date, Snapshots]:
    """The snapshots of `ticker` / `endpoint` in several snapshots files (one per trade date, as
    exported), in one query: for each date, the rows of its file filed under that date."""
    if not files:
        return {}
    days = sorted(files)
    # one branch per file (a constant index, no per-row file name to match), read in parallel;
    # constants, not parameters, so the filters reach the Parquet scans
    feed = [_sql_string(ticker), _sql_string(endpoint)]
    branches = " UNION ALL ".join(
        f"""
        SELECT {i} AS idx, timestamp, coalesce(spot, 0)::DOUBLE AS spot,
               coalesce(spot > 0, false) AS spot_ok,
               coalesce(sum_gex_vol, 0) = 0 AND coalesce(sum_gex_oi, 0) = 0 AS zero_sums
        FROM read_parquet('{str(files[day]).replace("'", "''")}')
        WHERE ticker = {feed[0]} AND endpoint = {feed[1]} AND trade_date = DATE '{day.isoformat()}'
        """
        for i, day in enumerate(days)
    )
    arrays = con.execute(branches).fetchnumpy()
    # group the rows by file (a stable radix sort of the small file index), then order each
    # file's rows by timestamp where they are not already
    idx = np.asarray(arrays["idx"], dtype=np.int32)
    columns = {
        "timestamp": np.asarray(arrays["timestamp"], dtype=np.int64),
        "spot": np.asarray(arrays["spot"], dtype=np.float64),
        "spot_ok": np.asarray(arrays["spot_ok"], dtype=bool),
        "zero_sums": np.asarray(arrays["zero_sums"], dtype=bool),
    }
    if not (np.diff(idx) >= 0).all():
        order = np.argsort(idx, kind="stable")
        idx = idx[order]
        columns = {name: values[order] for name, values in columns.items()}
    bounds = np.searchsorted(idx, np.arange(len(days) + 1))
    return {
        day: _in_timestamp_order(
            {name: values[bounds[i] : bounds[i + 1]] for name, values in columns.items()}
        )
        for i, day in enumerate(days)
    }


def _in_timestamp_order(columns: dict[str, np.ndarray]) -> Snapshots:
    """`Snapshots` of the columns, sorted by timestamp only when they are not already."""
    timestamp = columns["timestamp"]
    if not (np.diff(timestamp) >= 0).all():
        order = np.argsort(timestamp, kind="stable")
        columns = {name: values[order] for name, values in columns.items()}
    return Snapshots(**columns)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def runs(timestamp: np.ndarray, flag: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of consecutive flagged positions as (first timestamp, last timestamp, length)."""
    positions = np.flatnonzero(flag)
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [positions.size - 1]))
    return [
        (int(timestamp[positions[s]]), int(timestamp[positions[e]]), int(e - s + 1))
        for s, e in zip(starts, ends, strict=True)
    ]


def gaps(timestamp: np.ndarray, max_gap_ms: int) -> list[tuple[int, int]]:
    """(before, after) of consecutive timestamps further apart than `max_gap_ms`."""
    steps = np.diff(timestamp)
    at = np.flatnonzero(steps > max_gap_ms)
    return [(int(timestamp[i]), int(timestamp[i + 1])) for i in at]


def repeated(timestamp: np.ndarray) -> list[tuple[int, int]]:
    """(timestamp, copies) of timestamps held more than once, in order."""
    if timestamp.size < 2 or not (np.diff(timestamp) == 0).any():
        return []
    values, counts = np.unique(timestamp, return_counts=True)
    return [(int(v), int(n)) for v, n in zip(values, counts, strict=True) if n > 1]


def spot_moves(
    timestamp: np.ndarray, spot: np.ndarray, min_move: float, deviations: float
) -> list[tuple[int, str]]:
    """Spikes (a move beyond the limit reverted by the next one) and jumps (a move that stays).

    `spot` holds usable spots only, in timestamp order. The limit is the larger of `min_move`
    and `deviations` x the MAD of the moves (0 when there is no move).
    """
    if spot.size < 2:
        return []
    move_in = spot[1:] / spot[:-1] - 1  # move into position i + 1
    mad = float(np.median(np.abs(move_in - np.median(move_in))))
    limit = max(min_move, deviations * mad)
    jump_in = np.abs(move_in) > limit
    # move_out of position i + 1 is move_in of position i + 2 (none for the last position)
    move_out = np.append(move_in[1:], np.nan)
    spike = jump_in & (np.abs(move_out) > limit) & (np.sign(move_in) != np.sign(move_out))
    reverts = np.concatenate(([False], spike[:-1]))
    keep = jump_in & (spike | ~reverts)
    stamps = timestamp[1:]
    return [(int(stamps[i]), "spike" if spike[i] else "jump") for i in np.flatnonzero(keep)]
