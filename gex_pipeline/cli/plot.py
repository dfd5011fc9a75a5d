"""`gex-pipeline plot`: a PNG of one feed-day from its exported Parquet files (no database).

Spot and zero gamma above, net GEX below, over the day in New York time; the gaps and the spot
spikes/jumps the integrity checks find are marked (`gex_pipeline.lib.gex.day_chart`). Exit status
2 on bad arguments or when the feed-day was never exported.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from gex_pipeline.lib.calendar.trading_date import parse_feed_key
from gex_pipeline.settings import Settings


def add_plot_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `plot` on the top-level subparsers."""
    plot = sub.add_parser("plot", help="draw a feed-day (spot, zero gamma, net GEX) as a PNG")
    plot.add_argument("--feed", required=True, help="TICKER.endpoint, e.g. SPX.gex_zero")
    plot.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    plot.add_argument("--out", required=True, type=Path, help="the PNG file to write")
    plot.add_argument("--parquet-root", type=Path, help="default $GEX_DATA_DIR/parquet/gexbot")


def run_plot(args: argparse.Namespace, settings: Settings) -> int:
    """Write the chart of the feed-day to `--out`; 2 when it cannot be drawn."""
    from gex_pipeline.lib.gex.day_chart import NoSnapshots, read_day, render_png, summary

    try:
        ticker, endpoint = parse_feed_key(args.feed)
        series = read_day(
            args.parquet_root or settings.paths.parquet_dir, ticker, endpoint, args.date
        )
    except (ValueError, NoSnapshots) as exc:
        print(f"plot: {exc}")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(render_png(series))
    print(f"{args.out}: {summary(series)}")
    return 0
