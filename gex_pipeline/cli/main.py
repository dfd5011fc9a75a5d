"""The `gex-pipeline` command: run the stack, the ingest API alone, or prepare the Dagster home."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gex_pipeline.cli.backup import add_backup_parsers, run_backup, run_restore_db
from gex_pipeline.cli.dagster_home import prepare_dagster_home, set_writer_pool_limit
from gex_pipeline.cli.demo.commands import add_demo_parser, run_demo
from gex_pipeline.cli.live_loader import run_live_loader
from gex_pipeline.cli.migrate import add_migrate_parser, ensure_migrated, run_migrate
from gex_pipeline.cli.plot import add_plot_parser, run_plot
from gex_pipeline.cli.rebuild import add_rebuild_parser, run_rebuild, run_replay
from gex_pipeline.cli.restore import add_restore_parser, run_restore
from gex_pipeline.cli.status import add_status_parser, run_status
from gex_pipeline.cli.supervisor import Service, Supervisor, accepts_connections
from gex_pipeline.cli.validate import add_validate_parser, run_validate
from gex_pipeline.quiet_warnings import python_warnings
from gex_pipeline.settings import Settings

# Dagster daemon intervals (seconds) that `up` sets unless the environment does: run-retry polling
# every 15 s instead of 5 (a failed import is retried up to 10 s later).
DAEMON_ENV_DEFAULTS = {"DAGSTER_EVENT_LOG_CONSUMER_DAEMON_INTERVAL_SECONDS": "15"}


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in DAEMON_ENV_DEFAULTS.items():
        env.setdefault(name, value)
    env["GEX_DATA_DIR"] = str(settings.paths.data_dir)
    env["DAGSTER_HOME"] = str(settings.paths.dagster_home)
    if settings.api.lan:
        env["GEX_INGEST_LAN"] = "1"
    env["PYTHONWARNINGS"] = python_warnings(env.get("PYTHONWARNINGS"))
    return env


def cmd_init(settings: Settings) -> int:
    """Create the data directory and the Dagster home; print where they are."""
    settings.paths.data_dir.mkdir(parents=True, exist_ok=True)
    home = prepare_dagster_home(
        settings.paths.dagster_home, postgres=settings.dagster.postgres_url is not None
    )
    set_writer_pool_limit(home)
    print(f"data directory: {settings.paths.data_dir}")
    print(f"DAGSTER_HOME:   {home}")
    return 0


def cmd_serve(settings: Settings) -> int:
    """Run the ingest API in the foreground (uvicorn)."""
    from ingest_api.server import run_server

    return run_server(settings)


GRPC_WORKSPACE = "workspace.production.yaml"


def _dagster_services(settings: Settings, dev: bool) -> list[Service]:
    """`dagster dev` for `--dev`; otherwise a gRPC code server, the webserver and the daemon.

    The code server is `dagster api grpc` itself, without the `code-server start` proxy (which
    cost 1.4 % of a core idle); the webserver and the daemon poll less while idle
    (`cli/dagster_processes.py`).
    """
    py = sys.executable
    home = settings.paths.dagster_home
    ui = ["-h", "127.0.0.1", "-p", str(settings.dagster.port)]
    if dev:
        return [
            Service(
                "dagster", (py, "-m", "dagster", "dev", "-w", str(home / "workspace.yaml"), *ui)
            )
        ]
    workspace = str(home / GRPC_WORKSPACE)
    code_server = ("-h", "127.0.0.1", "-p", str(settings.dagster.grpc_port))
    location = ("-m", "gex_pipeline.definitions", "--location-name", "gex_pipeline")
    quiet = (py, "-m", "gex_pipeline.cli.dagster_processes")
    return [
        Service(
            "dagster-code-server",
            (py, "-m", "dagster", "api", "grpc", *code_server, *location),
            ready=accepts_connections("127.0.0.1", settings.dagster.grpc_port),
        ),
        Service("dagster-webserver", (*quiet, "webserver", "-w", workspace, *ui)),
        Service("dagster-daemon", (*quiet, "daemon", "run", "-w", workspace)),
    ]


def stack_services(settings: Settings, dev: bool = False) -> list[Service]:
    """The services `gex-pipeline up` supervises, in start order. Adding one is one line here."""
    py = sys.executable
    services = [Service("ingest-api", (py, "-m", "gex_pipeline.cli", "serve"))]
    services += _dagster_services(settings, dev)
    services.append(Service("live-loader", (py, "-m", "gex_pipeline.cli", "live-loader")))
    return services


def write_grpc_workspace(settings: Settings) -> Path:
    """The workspace of the webserver and the daemon: the code server over gRPC."""
    path = settings.paths.dagster_home / GRPC_WORKSPACE
    path.write_text(
        "# Written by `gex-pipeline up` on every start (GEX_DAGSTER_GRPC_PORT).\n"
        "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
        f"      port: {settings.dagster.grpc_port}\n      location_name: gex_pipeline\n"
    )
    return path


def cmd_up(settings: Settings, dev: bool = False) -> int:
    """Start and supervise every service (`stack_services`); stop them all on Ctrl-C/SIGTERM."""
    cmd_init(settings)
    ensure_migrated(settings)
    if not dev:
        write_grpc_workspace(settings)
    supervisor = Supervisor(
        stack_services(settings, dev),
        _child_env(settings),
        settings.supervisor,
        log_file=settings.paths.logs_dir / "supervisor.log",
    )

    def _on_signal(signum: int, _frame: object) -> None:
        supervisor.stop()

    # Installed before the children start: a caught signal is reset to its default in a child,
    # while an ignored one (SIGINT of a background job started by a script) would be inherited,
    # and `dagster dev` ignoring SIGINT also ignores SIGTERM.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(f"ingest API: http://{settings.api.host}:{settings.api.port}  (docs at /docs)")
    if settings.api.lan:
        from ingest_api.lan import exposure_lines

        print("\n".join(exposure_lines(settings.api)))
    print(f"Dagster UI: http://127.0.0.1:{settings.dagster.port}")
    print("Press Ctrl-C to stop everything.", flush=True)
    return supervisor.run()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gex-pipeline",
        description="Durable intake and Dagster pipeline for GEX and option-flow data.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="run and supervise the ingest API, Dagster and the loaders")
    up.add_argument(
        "--dev",
        action="store_true",
        help="`dagster dev` (reloads code from the UI) instead of the code server, webserver and daemon",
    )
    up.add_argument(
        "--lan",
        action="store_true",
        help="LAN mode (GEX_INGEST_LAN=1): userscripts on this network can post, see the README",
    )
    sub.add_parser("serve", help="run the ingest API alone")
    sub.add_parser("init", help="create the data directory and the Dagster home")
    sub.add_parser(
        "live-loader", help="load /gex and /uw staging as it arrives (DuckDB, mirrored to the lake)"
    )
    add_demo_parser(sub)
    add_restore_parser(sub)
    add_validate_parser(sub)
    add_backup_parsers(sub)
    add_rebuild_parser(sub)
    add_migrate_parser(sub)
    add_status_parser(sub)
    add_plot_parser(sub)
    return parser


Command = Callable[[argparse.Namespace, Settings], int]

# Every subcommand of `build_parser` and what runs it (a test keeps the two in step).
COMMANDS: dict[str, Command] = {
    "up": lambda args, settings: cmd_up(settings, dev=args.dev),
    "serve": lambda _args, settings: cmd_serve(settings),
    "init": lambda _args, settings: cmd_init(settings),
    "live-loader": lambda _args, settings: run_live_loader(settings),
    "demo": run_demo,
    "restore": run_restore,
    "validate": run_validate,
    "backup": run_backup,
    "restore-db": run_restore_db,
    "rebuild": run_rebuild,
    "replay": run_replay,
    "migrate": run_migrate,
    "status": run_status,
    "plot": run_plot,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gex-pipeline` console script; a malformed setting exits 2, naming it."""
    args = build_parser().parse_args(argv)
    overrides = {"GEX_INGEST_LAN": "1"} if getattr(args, "lan", False) else {}
    try:
        settings = Settings.from_env(dict(os.environ, **overrides))
    except ValueError as exc:
        print(f"gex-pipeline: {exc}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](args, settings)
