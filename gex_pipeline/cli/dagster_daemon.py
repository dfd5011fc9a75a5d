"""`python -m gex_pipeline.cli.dagster_daemon run ...`: `dagster-daemon` with a slower workspace reload.

The Dagster daemon re-fetches and deserializes the whole code location every 60 s
(`RELOAD_WORKSPACE_INTERVAL`, a module constant of dagster 1.13), about 0.7 s of CPU for this
code location: a quarter of the idle stack's CPU. A restarted code server is noticed at once by
the daemon's gRPC watch thread, so the periodic reload is a safety net only; here it runs every
`WORKSPACE_RELOAD_SECONDS`. Everything else is `dagster-daemon` unchanged (same arguments).
`gex_pipeline_tests/ops/test_dagster_daemon.py` fails if dagster stops reading the constant.
"""

from __future__ import annotations

WORKSPACE_RELOAD_SECONDS = 300


def apply_reload_interval() -> None:
    """Set the daemon controller's periodic workspace reload to `WORKSPACE_RELOAD_SECONDS`."""
    from dagster._daemon import controller

    controller.RELOAD_WORKSPACE_INTERVAL = WORKSPACE_RELOAD_SECONDS


def main() -> None:
    """Run the `dagster-daemon` command line with the slower reload."""
    from dagster._daemon.cli import main as daemon_main

    apply_reload_interval()
    daemon_main()


if __name__ == "__main__":
    main()
