"""The Dagster webserver and daemon of `gex-pipeline up`, polling less while nothing happens.

THE ONLY MODULE OF gex_pipeline THAT TOUCHES DAGSTER INTERNALS (`dagster._*`), and only
best-effort: when a release moves or renames a constant, the process runs with Dagster's stock
intervals and says so on stderr (`make upgrade-check` reports it too).

Dagster 1.13 polls on fixed module constants that cost an idle stack most of its CPU:
- the daemon re-fetches and deserializes the whole code location every 60 s
  (`controller.RELOAD_WORKSPACE_INTERVAL`), about 0.7 s of CPU for this code location;
- the webserver and the daemon each ask the code server for its id every second
  (`server_watcher.WATCH_INTERVAL`) to notice that it restarted.
Here the reload runs every `WORKSPACE_RELOAD_SECONDS` (a safety net: a restarted code server is
noticed by the id poll) and the id poll every `SERVER_WATCH_SECONDS`. Everything else is the
stock command line: `python -m gex_pipeline.cli.dagster_processes daemon run -w W` is
`dagster-daemon run -w W`, `... webserver -w W -h H -p P` is `dagster-webserver -w W -h H -p P`.
`gex_pipeline_tests/ops/test_dagster_processes.py` fails if dagster stops reading the constants.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

WORKSPACE_RELOAD_SECONDS = 300
SERVER_WATCH_SECONDS = 5


# (module, constant, value): the intervals raised in this process.
INTERVALS = (
    ("dagster._daemon.controller", "RELOAD_WORKSPACE_INTERVAL", WORKSPACE_RELOAD_SECONDS),
    ("dagster._grpc.server_watcher", "WATCH_INTERVAL", SERVER_WATCH_SECONDS),
)


def apply_intervals() -> list[str]:
    """Raise dagster's workspace reload and code-server watch intervals (this process only);
    return the constants that could not be set (this Dagster moved them: stock behaviour)."""
    import importlib

    missing = []
    for module_name, constant, value in INTERVALS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        if module is None or not isinstance(getattr(module, constant, None), int | float):
            missing.append(f"{module_name}.{constant}")
            continue
        setattr(module, constant, value)
    return missing


def _daemon_main() -> None:
    from dagster._daemon.cli import main

    main()


def _webserver_main() -> None:
    from dagster_webserver.cli import main

    main()


PROGRAMS: dict[str, Callable[[], None]] = {"daemon": _daemon_main, "webserver": _webserver_main}


def main(argv: list[str] | None = None) -> None:
    """Run `argv[0]` (`daemon` or `webserver`) with the slower intervals and the rest of `argv`."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in PROGRAMS:
        raise SystemExit(f"usage: python -m {__name__} {{{','.join(PROGRAMS)}}} ARGS...")
    for name in apply_intervals():
        print(f"gex-pipeline: {name} not found in this Dagster: stock interval", file=sys.stderr)
    sys.argv = [f"{__name__} {args[0]}", *args[1:]]
    PROGRAMS[args[0]]()


if __name__ == "__main__":
    main()
