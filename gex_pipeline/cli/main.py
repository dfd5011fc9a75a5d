"""The `gex-pipeline` command: run the stack, the ingest API alone, or prepare the Dagster home."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from gex_pipeline.cli.backup import add_backup_parsers, run_backup, run_restore_db
from gex_pipeline.cli.dagster_home import prepare_dagster_home
from gex_pipeline.cli.demo.commands import add_demo_parser, run_demo
from gex_pipeline.cli.rebuild import add_rebuild_parser, run_rebuild
from gex_pipeline.cli.restore import add_restore_parser, run_restore
from gex_pipeline.lib.settings import Settings

STOP_TIMEOUT_SECONDS = 30.0


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["GEX_DATA_DIR"] = str(settings.data_dir)
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    return env


def cmd_init(settings: Settings) -> int:
    """Create the data directory and the Dagster home; print where they are."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    home = prepare_dagster_home(settings.dagster_home)
    print(f"data directory: {settings.data_dir}")
    print(f"DAGSTER_HOME:   {home}")
    return 0


def cmd_serve(settings: Settings) -> int:
    """Run the ingest API in the foreground (uvicorn)."""
    from ingest_api.server import run_server

    return run_server(settings)


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> bool:
    """Ask each child's process group to stop (SIGINT), then kill what is left after a timeout.

    True when every child stopped on its own.
    """
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
    clean = True
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            clean = False
            print(f"pid {proc.pid} did not stop in time; killing it", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return clean


def cmd_up(settings: Settings) -> int:
    """Start the ingest API and `dagster dev` (webserver + daemon); stop both on Ctrl-C."""
    cmd_init(settings)
    env = _child_env(settings)
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # Installed before the children start: a caught signal is reset to its default in a child,
    # while an ignored one (SIGINT of a background job started by a script) would be inherited,
    # and `dagster dev` ignoring SIGINT also ignores SIGTERM.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    api = subprocess.Popen(
        [sys.executable, "-m", "gex_pipeline.cli", "serve"], env=env, start_new_session=True
    )
    dagster = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(settings.dagster_home / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(settings.dagster_port),
        ],
        env=env,
        start_new_session=True,
    )
    procs = [api, dagster]
    print(f"ingest API: http://{settings.ingest_host}:{settings.ingest_port}  (docs at /docs)")
    print(f"Dagster UI: http://127.0.0.1:{settings.dagster_port}")
    print("Press Ctrl-C to stop both.", flush=True)

    clean = False
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.2)
    finally:
        clean = _stop(procs)
    if not stopping:
        print("a service exited unexpectedly; both were stopped", file=sys.stderr)
        return 1
    return 0 if clean else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gex-pipeline",
        description="Durable intake and Dagster pipeline for GEX and option-flow data.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("up", help="run the ingest API and the Dagster webserver + daemon together")
    sub.add_parser("serve", help="run the ingest API alone")
    sub.add_parser("init", help="create the data directory and the Dagster home")
    add_demo_parser(sub)
    add_restore_parser(sub)
    add_backup_parsers(sub)
    add_rebuild_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gex-pipeline` console script."""
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "demo":
        return run_demo(args, settings)
    if args.command == "restore":
        return run_restore(args, settings)
    if args.command == "backup":
        return run_backup(args, settings)
    if args.command == "restore-db":
        return run_restore_db(args, settings)
    if args.command == "rebuild":
        return run_rebuild(args, settings)
    commands = {"up": cmd_up, "serve": cmd_serve, "init": cmd_init}
    return commands[args.command](settings)
