"""`gex-pipeline rebuild [--force] [--into DIR]`: rebuild the lake partition by partition from raw
day files, processed staging and Parquet; `gex-pipeline replay`: load the processed staging a
restored store does not hold yet."""

from __future__ import annotations

import argparse
from pathlib import Path

from gex_pipeline.settings import Settings


def add_rebuild_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `rebuild` and `replay` on the top-level subparsers."""
    rebuild = sub.add_parser(
        "rebuild",
        help="rebuild the lake from kept raw day files, processed staging and Parquet "
        "(per partition, resumable, beside live loading)",
    )
    rebuild.add_argument(
        "--force", action="store_true", help="rebuild over a lake that holds data (history kept)"
    )
    rebuild.add_argument(
        "--into", type=Path, metavar="DIR", help="rebuild into this new lake instead (a drill)"
    )
    sub.add_parser(
        "replay",
        help="load processed staging segments the store does not hold (after restore-db)",
    )


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Replay processed staging into the store; exit 0."""
    from gex_pipeline.lib.ops.rebuild import replay_staging

    del args
    gex, uw = replay_staging(settings)
    print(f"replayed {gex} /gex and {uw} /uw segments into {settings.paths.duckdb_path}")
    return 0


def run_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild the lake; exit 0 on success, 2 when refused."""
    from gex_pipeline.lib.ops.rebuild import RebuildRefused, rebuild_lake

    try:
        report = rebuild_lake(settings, force=args.force, into=args.into)
    except RebuildRefused as exc:
        print(f"refused: {exc}")
        return 2
    target = args.into or settings.paths.lake_dir
    print(f"rebuilt {len(report.rebuilt)} partitions into {target} ({report.rows} rows)")
    if report.resumed:
        print(f"  {len(report.resumed)} partitions were already rebuilt before an interruption")
    sources: dict[str, int] = {}
    for source in report.rebuilt.values():
        sources[source] = sources.get(source, 0) + 1
    for source, count in sorted(sources.items()):
        print(f"  {count} from {source}")
    if report.parquet_only:
        print(
            f"  {len(report.parquet_only)} feed-days only in Parquet (strike rows restored, "
            f"snapshot rows lost): {', '.join(report.parquet_only)}"
        )
    return 0
