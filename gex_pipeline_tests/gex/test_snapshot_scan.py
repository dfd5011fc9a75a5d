"""The array arithmetic of the snapshot-level checks equals the SQL it replaced, on random series
with spikes, jumps, flat runs, unusable spots, gaps and repeated timestamps."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest

from gex_pipeline.lib.gex.snapshot_scan import (
    gaps,
    read_snapshot_files,
    read_snapshots,
    repeated,
    runs,
    spot_moves,
)

PARAMS = {"ticker": "SPX", "endpoint": "gex_zero", "trade_date": "2025-11-14"}
# The SQL of the checks before they shared one read (kept here as the reference).
SPIKES_SQL = """
WITH moves AS (
    SELECT timestamp, spot / lag(spot) OVER w - 1 AS move_in, lead(spot) OVER w / spot - 1 AS move_out
    FROM s WHERE spot > 0 WINDOW w AS (ORDER BY timestamp)
),
limit_ AS (SELECT greatest($min_move, $deviations * coalesce(mad(move_in), 0)) AS lim FROM moves),
flagged AS (
    SELECT timestamp, abs(move_in) > lim AS jump_in,
           abs(move_in) > lim AND abs(move_out) > lim AND sign(move_in) <> sign(move_out) AS spike
    FROM moves, limit_
),
kinds AS (
    SELECT timestamp, jump_in, spike, coalesce(lag(spike) OVER (ORDER BY timestamp), false) AS reverts
    FROM flagged
)
SELECT timestamp, CASE WHEN spike THEN 'spike' ELSE 'jump' END
FROM kinds WHERE jump_in AND (spike OR NOT reverts) ORDER BY timestamp
"""
GAPS_SQL = """
WITH g AS (SELECT lag(timestamp) OVER (ORDER BY timestamp) AS before, timestamp AS after FROM s)
SELECT before, after FROM g WHERE after - before > $max_gap ORDER BY before
"""
RUNS_SQL = """
SELECT min(timestamp), max(timestamp), count(*)::BIGINT
FROM (SELECT timestamp, rn - row_number() OVER (ORDER BY timestamp) AS grp
      FROM (SELECT timestamp, flag, row_number() OVER (ORDER BY timestamp) AS rn FROM s) WHERE flag)
GROUP BY grp ORDER BY 1
"""


def _series(seed: int, n: int = 3000) -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(seed)
    stamps = np.cumsum(rng.choice([1000, 1000, 1000, 2000, 9000], size=n)) + 1_763_130_600_000
    spot = 6800 * np.exp(np.cumsum(rng.normal(0, 2e-4, size=n)))
    for i in rng.choice(n - 2, size=8, replace=False):
        spot[i + 1] *= rng.choice([1.03, 0.97])  # spikes
    for i in rng.choice(n - 2, size=3, replace=False):
        spot[i + 1 :] *= 1.02  # jumps
    spot[rng.choice(n, size=20, replace=False)] = 0.0
    spot[100:130] = spot[99]  # a flat run
    spots = [None if i % 97 == 0 else float(v) for i, v in enumerate(spot)]
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s AS SELECT 'SPX' AS ticker, 'gex_zero' AS endpoint,"
        " DATE '2025-11-14' AS trade_date, unnest($ts) AS timestamp, unnest($spot) AS spot,"
        " unnest($flag) AS flag, 0.0 AS sum_gex_vol, 1.0 AS sum_gex_oi",
        {"ts": stamps.tolist(), "spot": spots, "flag": (rng.random(n) < 0.2).tolist()},
    )
    return con


@pytest.mark.parametrize("seed", range(6))
def test_spikes_gaps_and_runs_equal_the_sql(seed: int) -> None:
    con = _series(seed)
    snaps = read_snapshots(con, PARAMS, "s")
    for min_move, deviations in ((0.01, 10 * 1.4826), (0.001, 3.0)):
        sql = con.execute(SPIKES_SQL, {"min_move": min_move, "deviations": deviations}).fetchall()
        mine = spot_moves(
            snaps.timestamp[snaps.spot_ok], snaps.spot[snaps.spot_ok], min_move, deviations
        )
        assert mine == [(ts, kind) for ts, kind in sql]
        assert any(kind == "spike" for _, kind in mine)
    assert gaps(snaps.timestamp, 5000) == con.execute(GAPS_SQL, {"max_gap": 5000}).fetchall()
    flag = np.array([r[0] for r in con.execute("SELECT flag FROM s ORDER BY timestamp").fetchall()])
    assert runs(snaps.timestamp, flag) == [tuple(r) for r in con.execute(RUNS_SQL).fetchall()]


def test_repeated_timestamps_are_counted_like_a_group_by() -> None:
    stamps = np.array([1, 2, 2, 3, 4, 4, 4, 5])
    assert repeated(stamps) == [(2, 2), (4, 3)]
    assert repeated(np.array([1, 2, 3])) == []


def test_rows_stored_out_of_order_are_read_in_timestamp_order() -> None:
    con = _series(3)
    ordered = read_snapshots(con, PARAMS, "s")
    con.execute("CREATE TABLE shuffled AS SELECT * FROM s ORDER BY hash(timestamp)")
    shuffled = read_snapshots(con, PARAMS, "shuffled")
    assert not (
        np.diff(con.execute("SELECT timestamp FROM shuffled").fetchnumpy()["timestamp"]) >= 0
    ).all()
    for name in ("timestamp", "spot", "spot_ok", "zero_sums"):
        assert np.array_equal(getattr(shuffled, name), getattr(ordered, name)), name


def test_files_read_together_equal_each_file_read_alone(tmp_path) -> None:
    con = _series(4)
    files = {}
    for i, day in enumerate(("2025-11-14", "2025-11-17")):
        path = tmp_path / f"{i}.snapshots.parquet"
        # out of order, and one row filed under another date (not part of this day)
        con.execute(
            f"COPY (SELECT * FROM (SELECT * REPLACE (DATE '{day}' AS trade_date) FROM s"
            f" UNION ALL (SELECT * REPLACE (DATE '2025-11-18' AS trade_date) FROM s LIMIT 1))"
            f" ORDER BY hash(timestamp, trade_date)) TO '{path}' (FORMAT parquet)"
        )
        files[date.fromisoformat(day)] = path
    together = read_snapshot_files(con, files, "SPX", "gex_zero")
    for day, path in files.items():
        alone = read_snapshots(con, {**PARAMS, "trade_date": day}, f"read_parquet('{path}')")
        assert len(alone) == 3000
        for name in ("timestamp", "spot", "spot_ok", "zero_sums"):
            assert np.array_equal(getattr(together[day], name), getattr(alone, name)), name
