"""`gex-pipeline rebuild [--force]`: rebuild gex_data.db from raw day files, staging and Parquet;
`gex-pipeline replay`: load the processed staging a (restored) database does not hold yet."""

from __future__ import annotations

import argparse

from gex_pipeline.settings import Settings


def add_rebuild_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `rebuild` on the top-level subparsers."""
    rebuild = sub.add_parser(
        "rebuild", help="rebuild gex_data.db from kept raw day files, processed staging and Parquet"
    )
    rebuild.add_argument(
        "--force", action="store_true", help="rebuild over an existing database (kept aside)"
    )
    sub.add_parser(
        "replay",
        help="load processed staging segments the database does not hold (after restore-db)",
    )


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Replay processed staging into the existing database; exit 0."""
    from gex_pipeline.lib.ops.rebuild import replay_staging

    del args
    report = replay_staging(settings)
    print(
        f"replayed {report.gex_segments} /gex and {report.uw_segments} /uw segments "
        f"into {settings.paths.duckdb_path}"
    )
    return 0


def run_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the database; exit 0 on success, 2 when refused."""
    from gex_pipeline.lib.ops.rebuild import RebuildRefused, rebuild_database

    try:
        report = rebuild_database(settings, force=args.force)
    except RebuildRefused as exc:
        print(f"refused: {exc}")
        return 2
    print(f"rebuilt {settings.paths.duckdb_path}")
    print(f"  {report.gex_segments} /gex segments and {report.uw_segments} /uw segments replayed")
    print(f"  {len(report.day_files)} raw day files imported")
    if report.parquet_slices:
        print(
            f"  {len(report.parquet_slices)} slices only in Parquet (strike rows restored, "
            f"snapshot rows lost): {', '.join(report.parquet_slices)}"
        )
    if report.replaced is not None:
        print(f"the previous database was kept as {report.replaced}")
    return 0
