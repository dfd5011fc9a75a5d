"""Ingest API throughput and latency, durable (fsync) vs the unsafe no-fsync baseline.

Starts one uvicorn worker (`gex-pipeline serve`) on 127.0.0.1 per mode, drives it with `wrk`
(16 connections, one thread, bounded in time) and prints req/s, p50 and p99 per endpoint and mode.

The figures are about the server only when the load generator is not the bottleneck. `wrk` is a
C event loop; the CPU time it used (its rusage) is printed beside each run as a share of its one
thread, and a run where it was above `GENERATOR_BUSY` is printed as "generator-bound" instead of
figures. Without `wrk` no server figures are printed at all (a Python generator on the same two
cores measured itself: ~300 req/s, p99 ~300 ms); install it (`apt-get install wrk`,
`brew install wrk`) or point `GEX_BENCH_WRK` at a binary.
Run: `python -m benchmarks ingest` (or `make bench`).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.machine import describe

CONNECTIONS = 16
DURATION_S = int(os.environ.get("GEX_BENCH_SECONDS", "4"))
ROUNDS = 2
UW_BATCH = 20
# Above this share of its one thread's CPU, wrk may be what limits the rate: no figures printed.
GENERATOR_BUSY = 0.8


def gex_payload(strikes: int = 150) -> bytes:
    """A realistic flat /gex snapshot with `strikes` rows of 4 elements."""
    rows = [
        [6500 + 5 * i, 12.5 - i * 0.1, 3.25 + i * 0.01, [1.1, 2.2, 3.3, 4.4, 5.5]]
        for i in range(strikes)
    ]
    snapshot = {
        "ticker": "SPX",
        "timestamp": 1763130600,
        "endpoint": "gex_zero",
        "spot": 6734.25,
        "zero_gamma": 6708.6,
        "sum_gex_vol": 1712585.519,
        "sum_gex_oi": 51521.105,
        "major_pos_vol": 6735,
        "major_neg_vol": 6700,
        "major_pos_oi": 6800,
        "major_neg_oi": 6500,
        "min_dte": 0,
        "sec_min_dte": 1,
        "delta_risk_reversal": 0.118,
        "strikes": rows,
        "max_priors": [[6740, 170979.742]] * 6,
    }
    return json.dumps(snapshot).encode()


def uw_message(n: int) -> list[object]:
    """A small option-trade Phoenix message."""
    return [
        None,
        None,
        "option_trades_super_algo",
        "new_msg",
        {
            "data": {
                "id": f"00000000-0000-4000-8000-{n:012d}",
                "executed_at": "2025-11-14T15:02:11.482Z",
                "option_chain_id": "NVDA251121C00190000",
                "price": "3.45",
                "size": 250,
                "premium": "86250.00",
            }
        },
    ]


@dataclass(frozen=True)
class Result:
    """One load run: requests per second, latency percentiles in ms, failures, and the CPU share
    the generator (its one thread) and the server (its process) used during the run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator_cpu: float
    server_cpu: float

    @property
    def generator_bound(self) -> bool:
        """True when the generator was busy enough to be what limited the rate."""
        return self.generator_cpu > GENERATOR_BUSY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    def __init__(self, data_dir: Path, **overrides: str) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEX_INGEST_")}
        env.update(
            GEX_DATA_DIR=str(data_dir),
            GEX_SECRETS_DIR=str(data_dir.parent / "secrets"),
            GEX_INGEST_HOST="127.0.0.1",
            GEX_INGEST_PORT=str(self.port),
        )
        env.update(overrides)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gex_pipeline.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("ingest server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


_WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_path() -> str | None:
    """The `wrk` binary: `GEX_BENCH_WRK`, else the one on PATH, else None."""
    explicit = os.environ.get("GEX_BENCH_WRK")
    return explicit if explicit and os.access(explicit, os.X_OK) else shutil.which("wrk")


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux `/proc`; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk(wrk: str, url: str, body: bytes, workdir: Path, server_pid: int) -> Result:
    body_path = workdir / "body.json"
    body_path.write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(_WRK_LUA.format(body=body_path))
    cpu_before, server_before = _children_cpu_s(), _process_cpu_s(server_pid)
    started = time.monotonic()
    out = subprocess.run(
        [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=DURATION_S + 60,
        check=True,
    ).stdout
    wall = time.monotonic() - started
    generator_cpu = (_children_cpu_s() - cpu_before) / wall
    server_cpu = (_process_cpu_s(server_pid) - server_before) / wall

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(0)))
    return Result(rps, latency("50"), latency("99"), failed, generator_cpu, server_cpu)


def _cases() -> dict[str, tuple[str, bytes, int]]:
    """Case name -> (path, body, messages per request)."""
    uw_batch = json.dumps([uw_message(n) for n in range(UW_BATCH)]).encode()
    return {
        "/gex 150 strikes": ("/gex", gex_payload(), 1),
        "/uw 1 message": ("/uw", json.dumps(uw_message(0)).encode(), 1),
        f"/uw batch of {UW_BATCH}": ("/uw", uw_batch, UW_BATCH),
    }


def main() -> None:
    """Run every case against both modes, alternating, and print the best of `ROUNDS` each."""
    print(describe())
    wrk = wrk_path()
    if wrk is None:
        print(
            "wrk not found: no server figures printed. A Python load generator on the same cores "
            "measures itself, not the server. Install wrk (apt-get install wrk / brew install "
            "wrk) or set GEX_BENCH_WRK to its path."
        )
        return
    load1, load5, _ = os.getloadavg()
    print(f"load average before the run: {load1:.2f} (1 min), {load5:.2f} (5 min)")
    print(
        f"load: {wrk} -t1, {CONNECTIONS} connections, {DURATION_S} s per run, best of {ROUNDS} "
        "alternating runs per mode, 1 uvicorn worker per mode; 'wrk cpu' is the share of its one "
        f"thread it used (above {GENERATOR_BUSY:.0%} a run is generator-bound: no figures)"
    )
    header = (
        f"{'case':<22} {'mode':<9} {'req/s':>9} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'wrk cpu':>8} {'srv cpu':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="gex-bench-") as tmp:
        workdir = Path(tmp)
        servers = {
            "no-fsync": _Server(workdir / "nofsync", GEX_INGEST_FSYNC="0"),
            "durable": _Server(workdir / "durable"),
        }
        try:
            print(header)
            for case, (path, body, per_request) in _cases().items():
                best: dict[str, Result] = {}
                for _ in range(ROUNDS):
                    for mode, server in servers.items():
                        result = _wrk(wrk, f"{server.url}{path}", body, workdir, server.proc.pid)
                        if mode not in best or result.rps > best[mode].rps:
                            best[mode] = result
                for mode, r in best.items():
                    cpu = f"{r.generator_cpu:>8.0%} {r.server_cpu:>8.0%}"
                    if r.generator_bound:
                        print(f"{case:<22} {mode:<9} {'generator-bound: no figures':>52} {cpu}")
                        continue
                    print(
                        f"{case:<22} {mode:<9} {r.rps:>9.0f} {r.rps * per_request:>9.0f} "
                        f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7} {cpu}"
                    )
                if not any(r.generator_bound for r in best.values()):
                    ratio = best["durable"].rps / best["no-fsync"].rps
                    print(f"{case:<22} durable / no-fsync = {ratio:.0%}", flush=True)
        finally:
            for server in servers.values():
                server.stop()


if __name__ == "__main__":
    main()
