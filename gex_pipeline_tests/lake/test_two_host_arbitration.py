"""Two hosts' loaders sharing one lake: first commit of a key wins, losers become conflicts.

Each host is a data directory of its own (staging, `gex_data.db`); both mirror into one lake
directory, as two hosts do into object storage (the conflict checks are Delta's, the same on both).
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from pathlib import Path

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import GexStreamLoad, load_segments
from gex_pipeline.lib.lake.mirror import mirror
from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.seal import hot_partitions, seal
from gex_pipeline.lib.lake.tables import Lake
from gex_pipeline.lib.live.lake_sync import LakeSync
from gex_pipeline.lib.live.loader import LiveLoader, LiveStream
from gex_pipeline.lib.live.throttle import ReportThrottle
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline_tests.support.loader_doubles import SettableClock, SilentPublisher
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree, UwStagingTree


class Host:
    """One ingest host: its own staging and gex_data.db, the shared lake under its name."""

    def __init__(self, root: Path, name: str, lake_dir: Path) -> None:
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.lake = Lake(str(lake_dir), host=name)
        self.gex = GexStagingTree(self.dir / "staging")
        self.uw = UwStagingTree(self.dir / "staging")
        self.db = self.dir / "gex_data.db"

    def load_gex(self, records: list[dict[str, object]]) -> None:
        with connect(self.db) as con:
            migrate(con)
            load_segments(con, [self.gex.seal(records)])

    def load_uw(self, records: list[dict]) -> None:
        with connect(self.db) as con:
            migrate(con)
            load_uw_segments(con, [self.uw.seal(records)])

    def mirror(self, tables: tuple[str, ...] | None = None) -> int:
        with connect(self.db) as con:
            if tables is None:
                return mirror(con, self.lake, since=None).rows
            return mirror(con, self.lake, since=None, tables=tables).rows

    def seal_all(self) -> None:
        with connect(self.db) as con:
            for partition in hot_partitions(con):
                seal(con, self.lake, partition)


def _rows(lake: Lake, sql: str) -> list[tuple]:
    with connect_lake(lake) as con:
        return con.execute(sql).fetchall()


def _hosts(tmp_path: Path) -> tuple[Host, Host]:
    lake_dir = tmp_path / "shared-lake"
    return Host(tmp_path, "host-a", lake_dir), Host(tmp_path, "host-b", lake_dir)


def test_two_hosts_overlapping_snapshots_keep_the_first_commit_and_the_loser_as_conflict(
    tmp_path: Path,
) -> None:
    a, b = _hosts(tmp_path)
    t = [GEX_BASE_MS + s * 1000 for s in range(3)]
    a.load_gex([a.gex.record(timestamp=t[0], spot=1.0), a.gex.record(timestamp=t[1], spot=2.0)])
    # host b: t0 the same content (a duplicate), t1 different content (a conflict), t2 new
    b.load_gex(
        [
            b.gex.record(timestamp=t[0], spot=1.0),
            b.gex.record(timestamp=t[1], spot=99.0),
            b.gex.record(timestamp=t[2], spot=3.0),
        ]
    )
    assert a.mirror() > 0
    b.mirror()
    snapshots = _rows(a.lake, "SELECT timestamp, spot FROM gex_snapshots ORDER BY timestamp")
    assert snapshots == [(t[0], 1.0), (t[1], 2.0), (t[2], 3.0)]
    strikes = _rows(a.lake, "SELECT timestamp, count(*) FROM gex_strikes GROUP BY 1 ORDER BY 1")
    assert strikes == [(t[0], 3), (t[1], 3), (t[2], 3)]
    conflicts = _rows(
        a.lake,
        "SELECT timestamp, kind, segment, line, kept_hash IS NOT NULL, record->>'spot'"
        " FROM gex_conflicts",
    )
    assert len(conflicts) == 1
    timestamp, kind, segment, line, has_kept, spot = conflicts[0]
    assert (timestamp, kind, line, has_kept, float(spot)) == (t[1], "snapshot", 0, True, 99.0)
    assert segment.startswith("host-b/lost/")
    # repeated passes, then both seals, change nothing
    assert a.mirror() == 0 and b.mirror() == 0
    a.seal_all()
    b.seal_all()
    assert _rows(a.lake, "SELECT count(*) FROM gex_snapshots") == [(3,)]
    assert _rows(a.lake, "SELECT count(*) FROM gex_strikes") == [(9,)]
    assert _rows(a.lake, "SELECT count(*) FROM gex_conflicts") == [(1,)]


def test_two_host_strike_rows_committed_first_decide_whose_snapshot_goes_in(
    tmp_path: Path,
) -> None:
    a, b = _hosts(tmp_path)
    other = [[6700.0, 1.0, 2.0, None]]
    a.load_gex([a.gex.record(timestamp=GEX_BASE_MS, spot=1.0)])
    b.load_gex([b.gex.record(timestamp=GEX_BASE_MS, spot=1.0, strikes=other)])
    # host a committed its strike rows, then died before its snapshot commit
    a.mirror(tables=("gex_strikes",))
    b.mirror()
    assert _rows(a.lake, "SELECT count(*) FROM gex_snapshots") == [(0,)]
    lost = _rows(a.lake, "SELECT segment, kept_hash FROM gex_conflicts")
    assert len(lost) == 1 and lost[0][0].startswith("host-b/lost/") and lost[0][1] is None
    a.mirror()  # host a back: its snapshot goes in over its own strike rows
    assert _rows(a.lake, "SELECT spot, strike_count FROM gex_snapshots") == [(1.0, 3)]
    assert _rows(a.lake, "SELECT count(*) FROM gex_strikes") == [(3,)]
    assert b.mirror() == 0
    assert _rows(a.lake, "SELECT count(*) FROM gex_conflicts") == [(1,)]


def test_two_hosts_same_message_id_with_other_content_keeps_the_first_and_its_trade(
    tmp_path: Path,
) -> None:
    a, b = _hosts(tmp_path)
    records = UwStagingTree.records(UwStagingTree.messages(12))
    trade = next(r for r in records if str(r["channel"]).startswith("option_trades"))
    changed = copy.deepcopy(trade)
    changed["payload"]["data"]["price"] = "999.00"  # type: ignore[index]
    changed["content_hash"] = "f" * 64
    a.load_uw(records)
    b.load_uw([changed if r is trade else r for r in records])
    a.mirror()
    b.mirror()
    lake = a.lake
    assert _rows(lake, "SELECT count(*), count(DISTINCT id) FROM universal_webhooks") == [
        (len(records), len(records))
    ]
    price = _rows(lake, f"SELECT price FROM option_trades_events WHERE id = '{trade['id']}'")
    assert price == [(float(trade["payload"]["data"]["price"]),)]  # type: ignore[index]
    assert _rows(lake, "SELECT count(*) FROM option_trades_events") == _rows(
        lake, "SELECT count(*) FROM (SELECT DISTINCT id FROM option_trades_events)"
    )
    lost = _rows(lake, "SELECT id, segment, line FROM webhook_conflicts")
    assert lost == [(trade["id"], f"host-b/lost/{trade['id']}", 0)]


def test_two_hosts_mirroring_the_same_feed_at_once_never_duplicate_a_key(tmp_path: Path) -> None:
    a, b = _hosts(tmp_path)
    rounds = 6
    for n in range(rounds):
        batch = [GEX_BASE_MS + (n * 10 + s) * 1000 for s in range(10)]
        a.load_gex([a.gex.record(timestamp=t, spot=float(t % 97)) for t in batch])
        b.load_gex([b.gex.record(timestamp=t, spot=float(t % 97)) for t in batch])
        errors: list[BaseException] = []

        def run(host: Host, errors: list[BaseException]) -> None:
            try:
                host.mirror()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(h, errors)) for h in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
    expected = rounds * 10
    assert _rows(a.lake, "SELECT count(*), count(DISTINCT timestamp) FROM gex_snapshots") == [
        (expected, expected)
    ]
    assert _rows(a.lake, "SELECT count(*) FROM gex_strikes") == [(expected * 3,)]
    assert _rows(a.lake, "SELECT count(*) FROM gex_conflicts") == [(0,)]


def _live_loader(host: Host, clock: SettableClock) -> LiveLoader:
    """The host's live loader: its batches' rows go to the lake through its buffer."""
    return LiveLoader(
        db_path=host.db,
        staging_dir=host.dir / "staging",
        streams=[LiveStream(GexStreamLoad(), ReportThrottle(lambda s: s.trade_date, 0.0))],
        publisher=SilentPublisher(),
        status_path=host.dir / "live" / "status.json",
        clock=clock,
        lake=LakeSync(host.lake, flush_seconds=1.0),
    )


def test_two_host_loaders_buffered_flushes_keep_the_first_commit_and_the_loser_as_conflict(
    tmp_path: Path,
) -> None:
    a, b = _hosts(tmp_path)
    clock = SettableClock(
        datetime(2025, 11, 14, 15, 0, tzinfo=UTC).timestamp()
    )  # during the session
    loaders = {a: _live_loader(a, clock), b: _live_loader(b, clock)}
    t = [GEX_BASE_MS + s * 1000 for s in range(4)]
    for host, loader in loaders.items():  # each loader's first pass compares whole partitions
        host.gex.seal([host.gex.record(timestamp=t[0], spot=1.0)])
        assert loader.run_once() == 1
    # from here on each pass commits the rows the loader's batches inserted (its buffer)
    a.gex.seal([a.gex.record(timestamp=t[1], spot=2.0), a.gex.record(timestamp=t[2], spot=3.0)])
    b.gex.seal(
        [
            b.gex.record(timestamp=t[1], spot=2.0),  # the same content: a duplicate
            b.gex.record(timestamp=t[2], spot=99.0, strikes=[[6700.0, 9.0, 9.0, None]]),
            b.gex.record(timestamp=t[3], spot=4.0),
        ]
    )
    clock.now += 5
    for loader in loaders.values():
        assert loader.run_once() == 1
        loader.close()
    snapshots = _rows(a.lake, "SELECT timestamp, spot, strike_count FROM gex_snapshots ORDER BY 1")
    assert snapshots == [(t[0], 1.0, 3), (t[1], 2.0, 3), (t[2], 3.0, 3), (t[3], 4.0, 3)]
    strikes = _rows(a.lake, "SELECT timestamp, count(*) FROM gex_strikes GROUP BY 1 ORDER BY 1")
    assert strikes == [(t[0], 3), (t[1], 3), (t[2], 3), (t[3], 3)]
    conflicts = _rows(a.lake, "SELECT timestamp, segment, record->>'spot' FROM gex_conflicts")
    assert len(conflicts) == 1
    timestamp, segment, spot = conflicts[0]
    assert (timestamp, float(spot)) == (t[2], 99.0) and segment.startswith("host-b/lost/")
