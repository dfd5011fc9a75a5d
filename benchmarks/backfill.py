"""A 20-session backfill of one feed in chunks (one run each), against 20 single-day imports.

Generates one kept raw day file per NYSE session (20 sessions of NQ_NDX gex_zero, 1,000 snapshots
x 50 strikes each) with the demo generator, then materializes `gex_snapshots`, `gex_strikes`,
`gex_parquet` (and the checks Dagster runs with them) for those 20 partitions:
- baseline: 20 runs, `dagster asset materialize --partition <day>|<feed>`, one process each (what a
  backfill without a single-run policy launches: one run per partition);
- chunked: what a UI backfill launches with `gex_tables`' `BackfillPolicy.multi_run` (chunks of
  `BACKFILL_CHUNK_SESSIONS`): one process per chunk materializing its partition range (the CLI
  takes ranges only for single-run policies, so the chunk runs through `dg.materialize`).
Each mode gets its own copy of the files, its own DuckDB and its own Dagster home. A daemon-launched
run also pays the run launcher's start-up (5-15 s here), so the real gap is wider than measured.
Run: `python -m benchmarks backfill`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.machine import describe

TICKER, ENDPOINT = "NQ_NDX", "gex_zero"
FEED = f"{TICKER}.{ENDPOINT}"
SESSIONS = 20
SNAPSHOTS, STRIKES = 1_000, 50
SELECTION = "gex_snapshots,gex_strikes,gex_parquet"
RUN_TIMEOUT_SECONDS = 600


def _sessions() -> list[date]:
    from gex_pipeline.lib.calendar.sessions import sessions_between

    return [s.day for s in sessions_between(date(2025, 10, 20), date(2025, 12, 31))][:SESSIONS]


def _make_files(folder: Path, days: list[date]) -> None:
    from gex_pipeline.cli.demo.history_day import make_day_file

    for index, day in enumerate(days):
        make_day_file(
            folder, day, TICKER, ENDPOINT, seed=index, snapshots=SNAPSHOTS, strikes=STRIKES
        )


def _prepare(root: Path, files: Path) -> dict[str, str]:
    """A data dir with the raw files kept and the feed registered; the environment of its runs."""
    import dagster as dg

    from gex_pipeline.cli.dagster_home import prepare_dagster_home

    data = root / "data"
    shutil.copytree(files, data / "source" / "gexbot" / TICKER / ENDPOINT)
    home = prepare_dagster_home(data / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("feed", [FEED])
    return {**os.environ, "GEX_DATA_DIR": str(data), "DAGSTER_HOME": str(home)}


def _materialize(env: dict[str, str], *partition_args: str) -> None:
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m"]
    command += ["gex_pipeline.definitions", "--select", SELECTION, *partition_args]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(partition_args)} failed:\n{done.stderr[-3000:]}")


CHUNK_SCRIPT = """
import sys, dagster as dg
from gex_pipeline.defs.gex.tables import gex_tables
from gex_pipeline.defs.resources import build_resources
from gex_pipeline.settings import Settings
with dg.DagsterInstance.get() as instance:
    result = dg.materialize([gex_tables], instance=instance,
        resources=build_resources(Settings.from_env()),
        tags={"dagster/asset_partition_range_start": sys.argv[1],
              "dagster/asset_partition_range_end": sys.argv[2]})
    sys.exit(0 if result.success else 1)
"""


def _materialize_chunks(env: dict[str, str], keys: list[str]) -> None:
    """Each chunk of `keys` as one process, as the backfill policy splits them."""
    from gex_pipeline.defs.gex.tables import BACKFILL_CHUNK_SESSIONS

    for start in range(0, len(keys), BACKFILL_CHUNK_SESSIONS):
        chunk = keys[start : start + BACKFILL_CHUNK_SESSIONS]
        done = subprocess.run(
            [sys.executable, "-c", CHUNK_SCRIPT, chunk[0], chunk[-1]],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
        if done.returncode != 0:
            raise RuntimeError(f"chunk {chunk[0]}...{chunk[-1]} failed:\n{done.stderr[-3000:]}")


def _strike_rows(env: dict[str, str]) -> int:
    from gex_pipeline.lib.db.connection import connect

    with connect(Path(env["GEX_DATA_DIR"]) / "gex_data.db", read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM gex_strikes").fetchall()[0][0])


def main() -> None:
    """Print the wall time of both modes and their ratio."""
    print(describe())
    days = _sessions()
    keys = [f"{day.isoformat()}|{FEED}" for day in days]
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        _make_files(root / "files", days)
        print(
            f"{SESSIONS} sessions {days[0]}..{days[-1]} of {FEED}, {SNAPSHOTS} snapshots x "
            f"{STRIKES} strikes a day, generated in {time.perf_counter() - started:.1f}s"
        )
        env = _prepare(root / "single_days", root / "files")
        started = time.perf_counter()
        for key in keys:
            _materialize(env, "--partition", key)
        single_days = time.perf_counter() - started
        rows_single_days = _strike_rows(env)

        env = _prepare(root / "one_run", root / "files")
        started = time.perf_counter()
        _materialize_chunks(env, keys)
        one_run = time.perf_counter() - started
        rows_one_run = _strike_rows(env)
    assert rows_one_run == rows_single_days, (rows_one_run, rows_single_days)
    print(f"strike rows loaded (both modes): {rows_one_run:,}")
    print(f"baseline   20 single-day runs: {single_days:7.1f}s ({single_days / SESSIONS:.2f}s/day)")
    print(f"candidate  chunked backfill:   {one_run:7.1f}s ({one_run / SESSIONS:.2f}s/day)")
    print(
        f"speed-up: {single_days / one_run:.1f}x (one run / twenty runs = {one_run / single_days:.2f})"
    )
