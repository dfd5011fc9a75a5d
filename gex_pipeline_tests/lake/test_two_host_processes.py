"""Two ingest hosts on one machine: two data directories, two live-loader processes, one lake on
a moto S3 server. Overlapping feeds and the same history link go to both; either host is killed
with SIGKILL while it commits. Nothing is lost, nothing duplicated, the first commit of a key
wins and the other host's different content is kept as a conflict; the tables stay consistent
(every snapshot has exactly its own strike rows).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from gex_pipeline.lib.lake.reads import connect_lake
from gex_pipeline.lib.lake.tables import Lake
from gex_pipeline_tests.support.object_store import ObjectStore
from gex_pipeline_tests.support.staging_trees import GEX_BASE_MS, GexStagingTree

pytestmark = pytest.mark.e2e

ROUNDS = 16
PER_FEED = 5
DEADLINE_S = 240.0
# (ticker, hosts that receive it); NQ_NDX reaches both with other content every 3rd second
FEEDS = {"SPX": ("a", "b"), "NQ_NDX": ("a", "b"), "VIX": ("a",), "QQQ": ("b",)}
STARTED = "live loader started"


def _loader(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gex_pipeline.cli", "live-loader"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _env(object_store: ObjectStore, prefix: str, root: Path, host: str) -> dict[str, str]:
    data = root / host
    (data / "dagster_home").mkdir(parents=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GEX_", "AWS_", "DAGSTER"))}
    return {
        **base,
        **object_store.env(prefix),
        "GEX_DATA_DIR": str(data),
        "DAGSTER_HOME": str(data / "dagster_home"),
        "GEX_LAKE_HOST": f"host-{host}",
        "GEX_LAKE_FLUSH_SECONDS": "0",
        "GEX_LIVE_POLL_MS": "100",
    }


def _record(tree: GexStagingTree, ticker: str, host: str, timestamp: int) -> dict[str, object]:
    conflicting = ticker == "NQ_NDX" and (timestamp // 1000) % 3 == 0
    gamma = {"a": 1.0, "b": 2.0}[host] if conflicting else 1.0
    spot = {"a": 100.0, "b": 200.0}[host] if conflicting else 100.0
    strikes = [[6700.0 + k, gamma, None, None] for k in range(3)]
    return tree.record(ticker, timestamp=timestamp, spot=spot, strikes=strikes)


def _wait_started(logs: Iterable[Path], starts: int = 1, timeout: float = 120.0) -> None:
    """Wait until every loader's log shows its `starts`-th start (interpreter and Dagster
    instance up), so the posts meet running loaders."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() and p.read_text().count(STARTED) >= starts for p in logs):
        assert time.monotonic() < deadline, "a live loader did not start"
        time.sleep(0.2)


def _lake_rows(lake: Lake, sql: str) -> list[tuple]:
    with connect_lake(lake) as con:
        return con.execute(sql).fetchall()


def test_two_host_loaders_share_the_lake_through_kills(
    tmp_path: Path, object_store: ObjectStore
) -> None:
    prefix = f"two-host-{uuid.uuid4().hex}"
    lake = object_store.lake(prefix)
    env = {h: _env(object_store, prefix, tmp_path, h) for h in ("a", "b")}
    trees = {h: GexStagingTree(Path(env[h]["GEX_DATA_DIR"]) / "staging") for h in ("a", "b")}
    logs = {h: tmp_path / f"loader-{h}.log" for h in ("a", "b")}
    procs = {h: _loader(env[h], logs[h]) for h in ("a", "b")}
    expected: set[tuple[str, int]] = set()
    try:
        _wait_started(logs.values())
        for n in range(ROUNDS):
            for host, tree in trees.items():
                records = [
                    _record(tree, ticker, host, GEX_BASE_MS + (n * PER_FEED + s) * 1000)
                    for ticker, hosts in FEEDS.items()
                    if host in hosts
                    for s in range(PER_FEED)
                ]
                tree.seal(records)
                expected |= {(str(r["ticker"]), int(r["timestamp"])) for r in records}  # type: ignore[call-overload]
            if n in (4, 10):  # host a, then host b, dies in the middle of its commits
                victim = "a" if n == 4 else "b"
                time.sleep(0.3)
                os.killpg(procs[victim].pid, signal.SIGKILL)
                procs[victim].wait(timeout=30)
                procs[victim] = _loader(env[victim], logs[victim])
                _wait_started([logs[victim]], starts=2)
            time.sleep(0.4)
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            pending = [p for t in trees.values() for p in t.dirs.sealed.iterdir()]
            done = _lake_rows(lake, "SELECT count(*) FROM gex_snapshots")[0][0] >= len(expected)
            if done and not pending:
                break
            time.sleep(1)
        time.sleep(3)  # a last mirror pass of each host
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        codes = {h: p.wait(timeout=60) for h, p in procs.items()}
    assert codes == {"a": 0, "b": 0}, {h: logs[h].read_text()[-3000:] for h in logs}

    keys = _lake_rows(lake, "SELECT ticker, timestamp FROM gex_snapshots")
    assert len(keys) == len(set(keys)), "a snapshot key is in the lake twice"
    assert set(keys) == expected, "a posted snapshot is missing from the lake"
    # every snapshot has exactly its own strike rows (the winner's gamma goes with its spot)
    mismatched = _lake_rows(
        lake,
        """
        SELECT s.ticker, s.timestamp, s.spot, s.strike_count, count(k.strike), min(k.gamma),
               max(k.gamma)
        FROM gex_snapshots s LEFT JOIN gex_strikes k USING (ticker, endpoint, timestamp)
        GROUP BY ALL
        HAVING count(k.strike) <> s.strike_count OR count(k.strike) <> 3
            OR min(k.gamma) <> max(k.gamma) OR min(k.gamma) <> (CASE s.spot WHEN 200 THEN 2 ELSE 1 END)
        """,
    )
    assert mismatched == []
    conflicting = {k for k in expected if k[0] == "NQ_NDX" and (k[1] // 1000) % 3 == 0}
    conflicts = _lake_rows(
        lake,
        """
        SELECT c.ticker, c.timestamp, c.segment, c.content_hash <> s.content_hash,
               c.kept_hash = s.content_hash OR c.kept_hash IS NULL
        FROM gex_conflicts c JOIN gex_snapshots s USING (ticker, endpoint, timestamp)
        """,
    )
    assert sorted((t, ts) for t, ts, *_ in conflicts) == sorted(conflicting)
    assert all(differs and kept for *_, differs, kept in conflicts)
    assert all(seg.startswith(("host-a/lost/", "host-b/lost/")) for _, _, seg, *_ in conflicts)


HISTORY_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from deltalake.exceptions import CommitFailedError
    from gex_pipeline.lib.gex.feed_day import FeedDay
    from gex_pipeline.lib.history.partition_import import import_partition
    from gex_pipeline.lib.lake.store import TableStore
    from gex_pipeline.settings import Settings

    settings = Settings.from_env()
    for attempt in range(6):  # what gex_tables' RetryPolicy does for a failed step
        try:
            import_partition(
                FeedDay(date(2025, 11, 14), "SPX", "gex_zero"),
                store=TableStore.from_settings(settings),
                paths=settings.paths,
                history=settings.history,
            )
            print("imported after", attempt, "conflicts")
            break
        except CommitFailedError:
            time.sleep(0.5)
    else:
        sys.exit(3)
    """
)


def test_two_host_imports_of_the_same_link_replace_the_partition_once(
    tmp_path: Path, object_store: ObjectStore
) -> None:
    from gex_pipeline.cli.demo.history_day import make_day_file
    from gex_pipeline.lib.history.sources import raw_dir, raw_file_name

    prefix = f"two-host-history-{uuid.uuid4().hex}"
    lake = object_store.lake(prefix)
    day = make_day_file(tmp_path / "file", "2025-11-14", "SPX", "gex_zero", seed=3,
                        snapshots=120, strikes=30)  # fmt: skip
    script = tmp_path / "import.py"
    script.write_text(HISTORY_SCRIPT)
    procs = []
    for host in ("a", "b"):
        env = _env(object_store, prefix, tmp_path, host)
        folder = raw_dir(Path(env["GEX_DATA_DIR"]) / "source" / "gexbot", "SPX", "gex_zero")
        folder.mkdir(parents=True)
        from datetime import date

        shutil.copy(day.path, folder / raw_file_name(date(2025, 11, 14), "SPX", "gex_zero", True))
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
            )
        )
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    snapshots = _lake_rows(lake, "SELECT count(*), count(DISTINCT timestamp) FROM gex_snapshots")
    assert snapshots == [(120, 120)]
    strikes = _lake_rows(
        lake, "SELECT count(*), count(DISTINCT (timestamp, strike)) FROM gex_strikes"
    )
    assert strikes[0][0] == strikes[0][1] > 0
    figures = _lake_rows(lake, "SELECT strike_rows FROM gex_partition_figures")
    assert figures == [(strikes[0][0],)]
    changes = _lake_rows(lake, "SELECT count(*) FROM gex_partition_changes")[0][0]
    assert changes >= 1
