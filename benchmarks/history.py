"""End-to-end import of a full history day file vs the raw DuckDB parse of the same file.

Generates one full day (23,400 snapshots x 120 strikes, gzip) with the demo generator, serves it
from a local HTTP server on 127.0.0.1, then runs, each in a fresh process (so peak RSS is its own):
- raw: `read_json` (schema auto-detected) + `UNNEST` of the strikes into a table of a new DuckDB;
- typed: the same with three declared columns (a lower bound for any parse of the file);
- import: the pipeline's `import_partition` (download + parse + validate + replace of the lake
  partition + Parquet).
Targets (issue 17): import wall time <= 1.5x the typed parse, peak RSS < 2 GB. Run: `python -m benchmarks history`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.machine import describe

TRADE_DATE = date(2025, 11, 14)
TICKER, ENDPOINT = "NQ_NDX", "gex_zero"
STRIKES = 120
ROUNDS = 2
TARGET_RATIO = 1.5
TARGET_RSS_GIB = 2.0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_TYPED_COLUMNS = "{'timestamp': 'BIGINT', 'spot': 'DOUBLE', 'strikes': 'JSON[][]'}"


def run_raw(path: Path, db: Path) -> dict[str, float]:
    """The baseline: plain `read_json` (schema auto-detected) + `UNNEST` into a table."""
    return _raw(path, db, f"read_json('{path}')")


def run_typed(path: Path, db: Path) -> dict[str, float]:
    """A lower bound: `read_json` with three declared columns + `UNNEST` (no validation)."""
    return _raw(path, db, f"read_json('{path}', format='array', columns={_TYPED_COLUMNS})")


def _raw(path: Path, db: Path, source: str) -> dict[str, float]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "CREATE TABLE raw AS SELECT * EXCLUDE (strikes), unnest(strikes) AS strike "
            f"FROM {source}"
        )
        rows = con.execute("SELECT count(*) FROM raw").fetchone()
    finally:
        con.close()
    return {
        "seconds": time.perf_counter() - started,
        "rows": float(rows[0]) if rows else 0.0,
        "rss_mib": _peak_rss_mib(),
    }


def run_import(url: str, data_dir: Path) -> dict[str, float]:
    """The pipeline: post the link into the request store, then import the partition."""
    os.environ["GEX_DATA_DIR"] = str(data_dir)
    os.environ["GEX_SECRETS_DIR"] = str(data_dir.parent / f"{data_dir.name}-secrets")
    from gex_pipeline.lib.gex.feed_day import FeedDay
    from gex_pipeline.lib.history.partition_import import import_partition
    from gex_pipeline.lib.history.url_policy import UrlPolicy
    from gex_pipeline.lib.lake.store import TableStore
    from gex_pipeline.lib.payloads.history import parse_history_request
    from gex_pipeline.lib.staging.history_store import HistoryStore
    from gex_pipeline.settings import Settings

    settings = Settings.from_env()
    paths = settings.paths
    saved = HistoryStore(paths.data_dir, paths.secrets_dir).save_request(
        parse_history_request(json.dumps({"url": url}), UrlPolicy.from_settings(settings.history)),
        int(time.time() * 1000),
    )
    store = TableStore.from_paths(paths, settings.history.duckdb_memory_limit)
    started = time.perf_counter()
    done = import_partition(
        FeedDay(TRADE_DATE, TICKER, ENDPOINT),
        store=store,
        paths=paths,
        history=settings.history,
        parquet_root=paths.parquet_dir,
        request_id=saved.id,
    )
    return {
        "seconds": time.perf_counter() - started,
        "rows": float(done.stats.strike_rows),
        "rss_mib": _peak_rss_mib(),
    }


def _child(mode: str, *args: str) -> dict[str, float]:
    code = (
        "import json, sys; from pathlib import Path; import benchmarks.history as h; "
        f"print(json.dumps(h.run_{mode}(*sys.argv[1:2], Path(sys.argv[2]))))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print raw vs pipeline wall time, strike rows/s, peak RSS and the target verdicts."""
    from gex_pipeline.cli.demo.file_server import LocalFileServer
    from gex_pipeline.cli.demo.history_day import make_day_file

    print(describe())
    with tempfile.TemporaryDirectory(prefix="gex-bench-history-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        day = make_day_file(
            root / "files", TRADE_DATE, TICKER, ENDPOINT, snapshots=None, strikes=STRIKES
        )
        rows = day.manifest.records * STRIKES
        print(
            f"generated {day.path.name}: {day.manifest.records} snapshots x {STRIKES} strikes, "
            f"{day.manifest.bytes / 2**20:.1f} MiB gzip in {time.perf_counter() - started:.1f} s"
        )
        with LocalFileServer(root / "files") as server:
            os.environ["GEX_HISTORY_ALLOWED_HOSTS"] = f"127.0.0.1:{server.port}"
            os.environ["GEX_HISTORY_ALLOW_HTTP"] = "1"
            os.environ["GEX_HISTORY_ALLOW_PRIVATE"] = "1"
            url = server.url_for(day.path.name) + "?sv=2024&sig=bench"
            for round_no in range(1, ROUNDS + 1):
                raw = _child("raw", str(day.path), str(root / f"raw{round_no}.db"))
                typed = _child("typed", str(day.path), str(root / f"typed{round_no}.db"))
                imp = _child("import", url, str(root / f"data{round_no}"))
                ratio = imp["seconds"] / raw["seconds"]
                results = (("raw parse", raw), ("typed parse", typed), ("pipeline import", imp))
                for name, r in results:
                    print(
                        f"round {round_no} {name:15s}: {r['seconds']:6.2f} s, "
                        f"{r['rows'] / r['seconds'] / 1e6:5.2f} M strike rows/s "
                        f"({r['rows']:.0f} rows), peak RSS {r['rss_mib']:.0f} MiB"
                    )
                typed_ratio = imp["seconds"] / typed["seconds"]
                verdict = "ok" if typed_ratio <= TARGET_RATIO else "MISSED"
                rss_ok = "ok" if imp["rss_mib"] < TARGET_RSS_GIB * 1024 else "MISSED"
                print(
                    f"round {round_no} import/typed = {typed_ratio:.2f}x (target <= "
                    f"{TARGET_RATIO}x: {verdict}); import/raw = {ratio:.2f}x; "
                    f"peak RSS target < {TARGET_RSS_GIB:.0f} GiB: {rss_ok}; expected rows {rows}"
                )
