"""Supervise the services of `gex-pipeline up`: restart a crashed one with backoff, alone.

Each service runs in its own process group. When one exits while the stack is not stopping, it is
restarted after a backoff that doubles with each fast failure (an exit within `stable_seconds` of
its start) and resets once it has run stably; the others keep running. After `max_fast_failures`
fast failures in a row the supervisor gives up loudly: it logs why, stops everything and returns
a non-zero status. Every start, exit and restart is logged (stderr and `$GEX_DATA_DIR/logs/supervisor.log`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gex_pipeline.settings import SupervisorSettings

# How often exited services are looked for (an idle stack pays for every wake-up).
POLL_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 30.0


# How long the services after one with a readiness probe wait for it at start-up, polling it.
READY_TIMEOUT_SECONDS = 120.0
READY_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Service:
    """One supervised process: a name for the logs, its command line and, optionally, a probe
    that says when it serves (the services after it start only then, at start-up)."""

    name: str
    argv: tuple[str, ...]
    ready: Callable[[], bool] | None = None


def accepts_connections(host: str, port: int) -> Callable[[], bool]:
    """A readiness probe: True once a TCP connection to `host:port` succeeds."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False

    return probe


@dataclass
class _Child:
    service: Service
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    fast_failures: int = 0
    restarts: int = 0
    restart_at: float | None = None


class Supervisor:
    """Runs `services` until `stop()` (a signal) or a service fails too often."""

    def __init__(
        self,
        services: Sequence[Service],
        env: Mapping[str, str],
        policy: SupervisorSettings,
        log_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = [_Child(s) for s in services]
        self.env = dict(env)
        self.policy = policy
        self.log_file = log_file
        self.clock = clock
        self.stopping = False

    def log(self, message: str) -> None:
        """One line on stderr and in the log file."""
        line = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} supervisor: {message}"
        print(line, file=sys.stderr, flush=True)
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self.log_file.open("a") as fh:
                fh.write(line + "\n")

    def stop(self) -> None:
        """Ask the loop to stop every service (safe to call from a signal handler)."""
        self.stopping = True

    def _start(self, child: _Child) -> None:
        child.proc = subprocess.Popen(child.service.argv, env=self.env, start_new_session=True)
        child.started = self.clock()
        child.restart_at = None
        self.log(f"started {child.service.name} (pid {child.proc.pid})")

    def _on_exit(self, child: _Child, code: int) -> bool:
        """Schedule a restart of an exited child; False when it failed too often."""
        ran = self.clock() - child.started
        if ran >= self.policy.stable_seconds:
            child.fast_failures = 0
        child.fast_failures += 1
        if child.fast_failures >= self.policy.max_fast_failures:
            message = (
                f"GIVING UP: {child.service.name} exited {child.fast_failures} times in a row "
                f"within {self.policy.stable_seconds:.0f}s of starting (last exit code {code}); "
                "stopping every service"
            )
            self.log(message)
            self._alert(child.service.name, message, code)
            return False
        delay = self.policy.backoff(child.fast_failures)
        child.restarts += 1
        child.restart_at = self.clock() + delay
        self.log(
            f"{child.service.name} (pid {child.proc.pid if child.proc else '?'}) exited with "
            f"code {code} after {ran:.1f}s; restart {child.restarts} in {delay:.1f}s"
        )
        child.proc = None
        return True

    def _alert(self, service: str, message: str, code: int) -> None:
        """A `service_gave_up` alert (alerts.log, webhook); its own failure must not stop the stop."""
        from gex_pipeline.lib.ops.alerts import send_alert

        try:
            send_alert("service_gave_up", message, {"service": service, "exit_code": code})
        except Exception as exc:
            self.log(f"could not send the alert: {exc}")

    def _wait_ready(self, child: _Child) -> None:
        """Wait until `child` serves, exits, the stack stops or READY_TIMEOUT_SECONDS pass."""
        probe = child.service.ready
        if probe is None:
            return
        deadline = self.clock() + READY_TIMEOUT_SECONDS
        while not probe():
            if self.stopping or (child.proc and child.proc.poll() is not None):
                return
            if self.clock() >= deadline:
                self.log(f"{child.service.name} not ready after {READY_TIMEOUT_SECONDS:.0f}s")
                return
            time.sleep(READY_POLL_SECONDS)
        self.log(f"{child.service.name} ready after {self.clock() - child.started:.1f}s")

    def run(self) -> int:
        """Supervise until stopped (0 when every service stopped cleanly) or given up (1)."""
        for child in self.children:
            self._start(child)
            self._wait_ready(child)
        gave_up = False
        try:
            while not self.stopping and not gave_up:
                now = self.clock()
                for child in self.children:
                    if child.proc is not None:
                        code = child.proc.poll()
                        if code is not None and not self.stopping:
                            gave_up = not self._on_exit(child, code)
                            if gave_up:
                                break
                    elif child.restart_at is not None and now >= child.restart_at:
                        self._start(child)
                time.sleep(POLL_SECONDS)
        finally:
            clean = self._stop_all()
        if gave_up:
            return 1
        return 0 if clean else 1

    def _stop_all(self) -> bool:
        """SIGINT to each running service's process group, SIGKILL after a timeout."""
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        clean = True
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                clean = False
                self.log(f"pid {proc.pid} did not stop in time; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return clean
