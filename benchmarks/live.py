"""Live loading on the running stack: CPU, runs, DAGSTER_HOME growth and freshness at a session load.

Starts `gex-pipeline up` (ingest API, Dagster code server, webserver and daemon, live loader) on
spare ports with a fresh data directory, lets it settle, then measures two phases of the same run:
1. idle (the baseline): `GEX_BENCH_IDLE_SECONDS` (default 60) with no traffic;
2. session load: `GEX_BENCH_LOAD_SECONDS` (default 300) of 10 feeds posting `/gex` at 1 Hz with
   100 strikes each plus 20 `/uw` messages/s (one message per POST, as the userscript relays them).

Stack CPU is the CPU time of the whole process tree under `gex-pipeline up` (utime + stime of every
process, plus cutime + cstime for children they reaped) over the phase, as % of one core; the load
generator runs in this process and is not counted. Post -> row visible is measured per `/gex`
payload twice: from its POST to the moment its segment appears in `staging/gex/processed/`, which
the loader does right after the batch's commit to `gex_data.db` (loaded), and to the moment its
snapshot is readable in the lake, where readers (`gex_pipeline.reader`) see it: a thread of this
process polls `gex_snapshots` every 0.25 s as a notebook would (the table kept open and brought up
to date, only the files whose statistics may hold newer rows read).
DAGSTER_HOME growth per session is extrapolated from whole report cycles of the load phase
(`GrowthWindow`), so the first report of every partition does not count as a cycle.
Goals (issue 8): CPU <= 15 % of a core above idle, idle <= 3 %; visible p50 <= 2 s, p95 <= 5 s;
DAGSTER_HOME growth <= 50 MiB per 6.5 h session.

After the phases (outside the measured figures) it scrapes the ingest API's `GET /metrics` for the
live loader's series, exports one partition (`dagster asset materialize`, as the export sensor
would after the quiet period) and scrapes again for the pipeline's series: one address shows the
stack, or the benchmark fails saying which series are missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.machine import describe
from gex_pipeline.settings import Settings

FEEDS = [
    (ticker, endpoint)
    for ticker in ("SPX", "NDX", "SPY", "QQQ", "ES_SPX")
    for endpoint in ("gex_zero", "gex_one")
]
STRIKES = 100
UW_PER_SECOND = 20
SESSION_SECONDS = 6.5 * 3600
TICK = os.sysconf("SC_CLK_TCK")
LOADER_SERIES = (
    "gex_live_records_total",
    "gex_live_batches_total",
    "gex_live_lag_seconds_count",
    "gex_live_backlog_segments",
)
PIPELINE_SERIES = (
    "gex_pipeline_partitions_total",
    "gex_pipeline_last_success_timestamp_seconds",
    "gex_pipeline_check_evaluations_total",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROLES: tuple[tuple[str, str], ...] = (
    ("gex_pipeline.cli serve", "ingest API"),
    ("live-loader", "live loader"),
    ("dagster_webserver", "webserver"),
    ("dagster._daemon", "daemon"),
    ("dagster api grpc", "code server"),
    ("dagster code-server", "code server"),
    ("dagster_processes daemon", "daemon"),
    ("dagster_processes webserver", "webserver"),
    ("gex_pipeline.cli up", "supervisor"),
    ("execute_run", "runs"),
    ("execute_step", "runs"),
    ("dagster dev", "dagster dev"),
)


def _role(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    return next((role for needle, role in ROLES if needle in cmdline), "other")


def _tree_cpu_seconds(root: int) -> dict[str, float]:
    """CPU seconds of `root` and every descendant (incl. reaped children), by role."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        cpu[pid] = sum(int(v) for v in fields[11:15]) / TICK
    by_role: dict[str, float] = {}
    for pid, seconds in cpu.items():
        walk = pid
        while walk not in (0, 1) and walk != root:
            walk = parents.get(walk, 0)
        if walk == root:
            role = _role(pid)
            by_role[role] = by_role.get(role, 0.0) + seconds
    return by_role


def _dir_bytes(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # sqlite journals come and go
            if item.is_file():
                total += item.stat().st_size
    return total


REPORT_BURST_SECONDS = 15


@dataclass
class GrowthWindow:
    """DAGSTER_HOME growth over whole report cycles of the load phase.

    The loader reports each partition at once when it first sees it, then at most once per
    report interval: growth over an arbitrary window over- or under-counts cycles. The window
    starts after the first burst and spans whole intervals (`cycles` of `interval_s`).
    """

    home: Path
    interval_s: float
    cycles: int
    sizes: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> float:
        return self.interval_s * self.cycles

    def run(self) -> None:
        if self.cycles < 1 or self.stop.wait(REPORT_BURST_SECONDS):
            return
        self.sizes.append(_dir_bytes(self.home))
        if not self.stop.wait(self.seconds):
            self.sizes.append(_dir_bytes(self.home))

    def growth(self) -> int | None:
        return self.sizes[1] - self.sizes[0] if len(self.sizes) == 2 else None


def _runs(dagster_home: Path) -> int:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return instance.get_runs_count()


@dataclass
class Visibility:
    """Watches `processed/` and stamps when each posted `/gex` id became visible."""

    processed: Path
    posted: dict[str, float] = field(default_factory=dict)
    visible: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        seen: set[str] = set()
        while not self.stop.is_set():
            names = sorted(os.listdir(self.processed)) if self.processed.exists() else []
            now = time.monotonic()
            for name in names:
                if name in seen:
                    continue
                seen.add(name)
                for line in (self.processed / name).read_bytes().splitlines():
                    self.visible.setdefault(json.loads(line)["id"], now)
            self.stop.wait(0.02)

    def delays(self) -> list[float]:
        return sorted(self.visible[i] - t for i, t in self.posted.items() if i in self.visible)


@dataclass
class LakeVisibility:
    """Polls the lake's `gex_snapshots` and stamps when each posted snapshot became readable
    (`env`: the stack's environment, which names its lake)."""

    env: dict[str, str]
    posted: dict[tuple[str, str, int], float] = field(default_factory=dict)
    visible: dict[tuple[str, str, int], float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import duckdb

        from gex_pipeline.lib.lake.reads import register
        from gex_pipeline.lib.lake.remote import settings_lake
        from gex_pipeline.lib.lake.tables import TableCache

        tables = TableCache(settings_lake(Settings.from_env(self.env)))
        since = 0  # rows of a later pass may carry a slightly older timestamp: look back 10 s
        while not self.stop.wait(0.25):
            try:
                with duckdb.connect() as con:
                    table = tables.get("gex_snapshots")
                    newer = {"timestamp": (since, None)}
                    register(con, "snapshots", table, "gex_snapshots", ranges=newer)
                    rows = con.execute(
                        "SELECT DISTINCT ticker, endpoint, timestamp FROM snapshots"
                        f" WHERE timestamp >= {since}"
                    ).fetchall()
            except Exception:  # the table is created by the loader's first pass
                continue
            now = time.monotonic()
            for ticker, endpoint, timestamp in rows:
                self.visible.setdefault((ticker, endpoint, int(timestamp)), now)
            if rows:
                since = max(since, max(int(r[2]) for r in rows) - 10_000)

    def delays(self) -> list[float]:
        return sorted(self.visible[k] - t for k, t in self.posted.items() if k in self.visible)


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _stack_env(data_dir: Path, api_port: int, ui_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "GEX_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "GEX_INGEST_PORT": str(api_port),
        "GEX_DAGSTER_PORT": str(ui_port),
    }


def _start_stack(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gex_pipeline.cli", "up"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(api_port: int, ui_port: int, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    query = {"query": "{ workspaceOrError { __typename } }"}
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            api = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=2)
            ui = httpx.post(f"http://127.0.0.1:{ui_port}/graphql", json=query, timeout=5)
            if api.status_code == 200 and ui.status_code == 200:
                return
        time.sleep(1)
    raise RuntimeError("the stack did not become ready")


def _load(api_port: int, seconds: int, watch: Visibility, lake: LakeVisibility) -> list[float]:
    """Post the session load for `seconds`; return the `/gex` ack latencies (seconds)."""
    import httpx

    from gex_pipeline.cli.demo.live import LiveFeed, flat_payload
    from gex_pipeline.cli.demo.uw import UwStream

    start = int(time.time()) + 2
    feeds = [LiveFeed(t, e, 11, start, STRIKES, warmup=30) for t, e in FEEDS]
    bodies = [
        [(f, flat_payload(f.next_snapshot(), f.endpoint)) for f in feeds] for _ in range(seconds)
    ]
    uw = [json.dumps(m) for m in UwStream(5, start).messages(seconds * UW_PER_SECOND)]
    acks: list[float] = []
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as client:
        began = time.monotonic()
        for second in range(seconds):
            slot = began + second
            time.sleep(max(0.0, slot - time.monotonic()))
            for feed, payload in bodies[second]:
                sent = time.monotonic()
                response = client.post("/gex", content=json.dumps(payload), headers=headers)
                acks.append(time.monotonic() - sent)
                if response.status_code == 202:
                    watch.posted[response.json()["id"]] = sent
                    key = (feed.ticker, feed.endpoint, int(payload["timestamp"]) * 1000)
                    lake.posted[key] = sent
            for body in uw[second * UW_PER_SECOND : (second + 1) * UW_PER_SECOND]:
                client.post("/uw", content=body, headers=headers)
    return sorted(acks)


def _scrape(api_port: int, prefix: str) -> dict[str, float]:
    """The series of `GET /metrics` whose names start with `prefix` (`name{labels}` -> value);
    raises when there is none."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=10).text

    def key(name: str, labels: dict[str, str]) -> str:
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"

    found = {
        key(s.name, s.labels): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(prefix)
    }
    if not found:
        raise RuntimeError(f"GET /metrics shows no {prefix}* series")
    return found


def _export_one(env: dict[str, str], home: Path) -> str:
    """Export the partition the loader reported last (`dagster asset materialize`); its key."""
    import dagster as dg

    from gex_pipeline.defs.gex.keys import GEX_STRIKES

    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(GEX_STRIKES)
    if event is None or event.asset_materialization is None:
        raise RuntimeError("the loader reported no gex_strikes partition")
    key = str(event.asset_materialization.partition)
    dagster = Path(sys.executable).with_name("dagster")
    subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "gex_pipeline.definitions",
         "--select", "gex_parquet", "--partition", key],
        env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return key


def _show(label: str, series: dict[str, float], names: tuple[str, ...]) -> None:
    """Print the first series of each of `names`; raise naming those `series` lacks."""
    first = {n: next((k for k in sorted(series) if k.split("{")[0] == n), None) for n in names}
    missing = [n for n, k in first.items() if k is None]
    if missing:
        raise RuntimeError(f"GET /metrics {label}: missing {', '.join(missing)}")
    print(f"GET /metrics {label}: {len(series)} series, e.g.")
    for key in first.values():
        print(f"  {key} {series[str(key)]:g}")


def _phase(stack: subprocess.Popen, home: Path, seconds: float, work=None) -> dict:
    cpu0, size0, t0 = _tree_cpu_seconds(stack.pid), _dir_bytes(home), time.monotonic()
    result = work() if work else time.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu1 = _tree_cpu_seconds(stack.pid)
    roles = {r: 100 * (cpu1[r] - cpu0.get(r, 0.0)) / elapsed for r in cpu1}
    return {
        "cpu_pct": sum(roles.values()),
        "roles": roles,
        "growth": _dir_bytes(home) - size0,
        "elapsed": elapsed,
        "result": result,
    }


def main() -> None:
    """Run the idle and the session-load phases on one stack and print the table."""
    idle_s = int(os.environ.get("GEX_BENCH_IDLE_SECONDS", "60"))
    load_s = int(os.environ.get("GEX_BENCH_LOAD_SECONDS", "300"))
    print(describe())
    with tempfile.TemporaryDirectory(prefix="gex-bench-live-") as tmp:
        data_dir = Path(tmp) / "data"
        home = data_dir / "dagster_home"
        api_port, ui_port = _free_port(), _free_port()
        env = _stack_env(data_dir, api_port, ui_port)
        stack = _start_stack(env, Path(tmp) / "stack.log")
        try:
            _wait_ready(api_port, ui_port)
            time.sleep(30)  # sensors' first ticks, code location warm-up
            idle = _phase(stack, home, idle_s)
            runs0 = _runs(home)
            watch = Visibility(data_dir / "staging" / "gex" / "processed")
            watcher = threading.Thread(target=watch.run, daemon=True)
            watcher.start()
            in_lake = LakeVisibility(env)
            lake_watcher = threading.Thread(target=in_lake.run, daemon=True)
            lake_watcher.start()
            report_s = float(Settings.from_env().pipeline.live_report_seconds)
            cycles = int((load_s - REPORT_BURST_SECONDS) // report_s) if report_s else 0
            window = GrowthWindow(home, report_s, cycles)
            sampler = threading.Thread(target=window.run, daemon=True)
            sampler.start()
            loaded = _phase(stack, home, load_s, lambda: _load(api_port, load_s, watch, in_lake))
            time.sleep(10)  # the last segments seal, load and reach the lake
            watch.stop.set()
            in_lake.stop.set()
            window.stop.set()
            watcher.join()
            lake_watcher.join()
            sampler.join()
            runs = _runs(home) - runs0
            live_series = _scrape(api_port, "gex_live_")
            exported = _export_one(env, home)
            pipeline_series = _scrape(api_port, "gex_pipeline_")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(stack.pid, signal.SIGINT)
            stack.wait(timeout=120)
        delays = watch.delays()
        readable = in_lake.delays()
        acks = loaded["result"]
        steady = window.growth()
        lost = len(watch.posted) - len(delays)
        print(f"{'':<34}{'idle':>12}{'session load':>16}")
        print(
            f"{'stack CPU (% of one core)':<34}{idle['cpu_pct']:>11.1f}%{loaded['cpu_pct']:>15.1f}%"
        )
        print(
            f"{'  above idle (goal <= 15%)':<34}{'':>12}{loaded['cpu_pct'] - idle['cpu_pct']:>15.1f}%"
        )
        for role in sorted(loaded["roles"]):
            print(
                f"{'  ' + role:<34}{idle['roles'].get(role, 0.0):>11.1f}%"
                f"{loaded['roles'][role]:>15.1f}%"
            )
        print(f"{'Dagster runs':<34}{0:>12}{runs:>16}")
        print(
            f"{'DAGSTER_HOME growth':<34}{idle['growth'] / 1024:>10.0f}KB"
            f"{loaded['growth'] / 1024:>14.0f}KB  (whole phases)"
        )
        if steady is None:
            print(
                f"{'  per session':<34}not measured: the load phase holds no whole report cycle "
                f"after the first burst ({report_s:.0f} s; raise GEX_BENCH_LOAD_SECONDS)"
            )
        else:
            per_session = steady * SESSION_SECONDS / window.seconds / 2**20
            print(
                f"{'  per session':<34}{'':>12}  ~{per_session:.1f} MiB (goal <= 50; "
                f"{steady / 1024:.0f} KB over {window.cycles} report cycle(s) of {report_s:.0f} s)"
            )
        for label, found, missing in (
            ("post -> row loaded (gex_data.db)", delays, lost),
            ("post -> row readable in the lake", readable, len(in_lake.posted) - len(readable)),
        ):
            print(
                f"{label:<34}{'':>12}  p50 {_percentile(found, 0.5):.2f} s, "
                f"p95 {_percentile(found, 0.95):.2f} s, "
                f"max {found[-1] if found else float('nan'):.2f} s "
                f"(goal p50 <= 2, p95 <= 5; {len(found)} payloads, {missing} not seen)"
            )
        print(
            f"{'/gex ack':<34}{'':>12}  p50 {_percentile(acks, 0.5) * 1000:.1f} ms, "
            f"p99 {_percentile(acks, 0.99) * 1000:.1f} ms"
        )
        _show("after the load (live loader)", live_series, LOADER_SERIES)
        _show(f"after exporting {exported} (pipeline)", pipeline_series, PIPELINE_SERIES)
        print(
            f"phases: idle {idle_s} s, load {load_s} s (10 feeds x 1 Hz x {STRIKES} strikes + {UW_PER_SECOND} /uw msg/s)"
        )


if __name__ == "__main__":
    main()
