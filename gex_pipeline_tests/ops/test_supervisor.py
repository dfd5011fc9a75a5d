"""The supervisor of `gex-pipeline up`: restart a crashed service alone, with backoff; give up loudly."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from gex_pipeline.cli.main import stack_services
from gex_pipeline.cli.supervisor import Service, Supervisor
from gex_pipeline.lib.ops.alerts import read_alerts
from gex_pipeline.settings import Settings, SupervisorSettings

FAST = SupervisorSettings(
    backoff_ms=100, backoff_max_seconds=1, stable_seconds=5, max_fast_failures=3
)


def _sleeper(name: str) -> Service:
    return Service(name, (sys.executable, "-c", "import time; time.sleep(120)"))


def _pids(log: Path, name: str) -> list[int]:
    text = log.read_text() if log.exists() else ""
    return [int(p) for p in re.findall(rf"started {name} \(pid (\d+)\)", text)]


def _wait(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_service_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    log = tmp_path / "supervisor.log"
    supervisor = Supervisor([_sleeper("api"), _sleeper("dagster")], os.environ, FAST, log)
    thread = threading.Thread(target=supervisor.run)
    thread.start()
    try:
        assert _wait(lambda: _pids(log, "api") and _pids(log, "dagster"))
        (api,), (dagster,) = _pids(log, "api"), _pids(log, "dagster")
        os.kill(api, signal.SIGKILL)
        assert _wait(lambda: len(_pids(log, "api")) == 2)
        assert re.search(
            r"api \(pid \d+\) exited with code -9 after .*; restart 1 in 0.1s", log.read_text()
        )
        os.kill(dagster, 0)  # still the same process
        assert _pids(log, "dagster") == [dagster]
    finally:
        supervisor.stop()
        thread.join(30)
    for pid in (_pids(log, "api")[-1], dagster):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_repeated_fast_failures_give_up_loudly_and_stop_everything(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "supervisor.log"
    crasher = Service("crasher", (sys.executable, "-c", "raise SystemExit(3)"))
    supervisor = Supervisor([crasher, _sleeper("other")], os.environ, FAST, log)
    started = time.monotonic()
    assert supervisor.run() == 1
    elapsed = time.monotonic() - started
    text = log.read_text()
    assert len(_pids(log, "crasher")) == 3  # the first start and two restarts: 0.1s, then 0.2s
    assert "restart 1 in 0.1s" in text and "restart 2 in 0.2s" in text
    assert "GIVING UP: crasher exited 3 times in a row" in text
    assert "GIVING UP" in capsys.readouterr().err
    (alert,) = read_alerts(settings.paths)
    assert alert["kind"] == "service_gave_up" and alert["details"]["service"] == "crasher"
    assert elapsed < 10
    with pytest.raises(ProcessLookupError):
        os.kill(_pids(log, "other")[0], 0)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = SupervisorSettings(backoff_ms=1000, backoff_max_seconds=5)
    assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_a_service_that_ran_stably_starts_its_backoff_over(tmp_path: Path) -> None:
    now = [0.0]
    supervisor = Supervisor(
        [_sleeper("x")], os.environ, FAST, tmp_path / "log", clock=lambda: now[0]
    )
    (child,) = supervisor.children
    for expected in (1, 2):
        assert supervisor._on_exit(child, 1)
        assert child.fast_failures == expected
    now[0] = 100.0  # started at 0, exits at 100: it ran longer than stable_seconds
    assert supervisor._on_exit(child, 1)
    assert child.fast_failures == 1


def test_malformed_policy_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="GEX_SUPERVISOR_BACKOFF_MS"):
        Settings.from_env({"GEX_SUPERVISOR_BACKOFF_MS": "soon"})


def test_service_lists(settings: Settings) -> None:
    dev = [s.name for s in stack_services(settings, dev=True)]
    assert dev[:2] == ["ingest-api", "dagster"]
    services = {s.name: s.argv for s in stack_services(settings)}
    assert list(services)[:4] == [
        "ingest-api",
        "dagster-code-server",
        "dagster-webserver",
        "dagster-daemon",
    ]
    # the code server is `dagster api grpc` itself (no `code-server start` proxy process) and the
    # webserver and the daemon are started through the wrapper that slows their idle polling
    assert services["dagster-code-server"][1:5] == ("-m", "dagster", "api", "grpc")
    wrapper = ("-m", "gex_pipeline.cli.dagster_processes")
    assert services["dagster-daemon"][1:5] == (*wrapper, "daemon", "run")
    assert services["dagster-webserver"][1:4] == (*wrapper, "webserver")


def test_children_poll_for_run_retries_every_15_s_unless_told(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gex_pipeline.cli.main import _child_env

    name = "DAGSTER_EVENT_LOG_CONSUMER_DAEMON_INTERVAL_SECONDS"
    monkeypatch.delenv(name, raising=False)
    assert _child_env(settings)[name] == "15"
    monkeypatch.setenv(name, "5")
    assert _child_env(settings)[name] == "5"


def test_services_after_a_probed_one_start_once_it_serves(tmp_path: Path) -> None:
    """The webserver and the daemon start after the code server accepts connections (a real
    port opened 1.5 s after its process started), so the UI never shows it unreachable."""
    from gex_pipeline.cli.supervisor import accepts_connections
    from gex_pipeline_tests.support.servers import free_port

    port = free_port()
    late_server = (
        "import socket, time; time.sleep(1.5); s = socket.socket(); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(120)"
    )
    server = Service(
        "code-server",
        (sys.executable, "-c", late_server),
        ready=accepts_connections("127.0.0.1", port),
    )
    log = tmp_path / "supervisor.log"
    supervisor = Supervisor([server, _sleeper("webserver")], os.environ, FAST, log)
    thread = threading.Thread(target=supervisor.run)
    thread.start()
    try:
        assert _wait(lambda: _pids(log, "webserver"))
        lines = log.read_text().splitlines()
        ready = next(i for i, line in enumerate(lines) if "code-server ready after" in line)
        started = next(i for i, line in enumerate(lines) if "started webserver" in line)
        assert ready < started
        waited = float(re.search(r"ready after ([\d.]+)s", lines[ready]).group(1))
        assert waited >= 1.5
    finally:
        supervisor.stop()
        thread.join(30)


def test_a_probe_that_never_succeeds_does_not_block_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gex_pipeline.cli import supervisor as module

    monkeypatch.setattr(module, "READY_TIMEOUT_SECONDS", 0.5)
    never = Service("stuck", _sleeper("stuck").argv, ready=lambda: False)
    log = tmp_path / "supervisor.log"
    supervisor = Supervisor([never, _sleeper("next")], os.environ, FAST, log)
    thread = threading.Thread(target=supervisor.run)
    thread.start()
    try:
        assert _wait(lambda: _pids(log, "next"))
        assert "stuck not ready after" in log.read_text()
    finally:
        supervisor.stop()
        thread.join(30)
