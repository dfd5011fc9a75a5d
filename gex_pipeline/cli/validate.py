"""`gex-pipeline validate`: the integrity checks over the exported Parquet files, outside Dagster.

Prints one line per feed-day (status and failed checks), the failed checks' evidence, and a
coverage summary per feed, then the days of exported option trades (unless `--feed` is given); `--json` prints the same as JSON. Exit status 1 when an ERROR check
fails, 2 on bad arguments, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

from gex_pipeline.lib.calendar.sessions import sessions_between
from gex_pipeline.lib.calendar.trading_date import TRADING_TZ, parse_feed_key
from gex_pipeline.lib.gex.integrity import IntegrityResult, Thresholds, ny_iso
from gex_pipeline.lib.gex.validate import DayReport, validate
from gex_pipeline.lib.webhooks.validate import TradeDayReport, validate_option_trades
from gex_pipeline.settings import Settings


def add_validate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `validate` on the top-level subparsers."""
    parser = sub.add_parser(
        "validate", help="check stored data (Parquet) outside Dagster; exit 1 on an ERROR"
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--date", type=date.fromisoformat, help="one trading date YYYY-MM-DD")
    when.add_argument("--from", dest="start", type=date.fromisoformat, help="first date")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, help="last date (with --from)")
    parser.add_argument("--feed", action="append", help="TICKER.endpoint (repeatable; default all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--cadence", type=float, default=1.0, help="seconds between snapshots")
    parser.add_argument("--max-gap", type=float, default=None, help="gap threshold in seconds")
    parser.add_argument("--parquet-root", type=Path, help="default $GEX_DATA_DIR/parquet/gexbot")
    parser.add_argument(
        "--uw-root", type=Path, help="option trades files; default $GEX_DATA_DIR/parquet/uw"
    )


def _range(args: argparse.Namespace) -> tuple[date, date]:
    if args.date:
        return args.date, args.date
    if args.start:
        return args.start, args.end or args.start
    if args.end:
        raise ValueError("--to: needs --from")
    held = sessions_between(date.today() - timedelta(days=14), date.today())
    last = held[-1].day if held else date.today()
    return last, last


def _result_json(result: IntegrityResult) -> dict[str, object]:
    data = asdict(result)
    data["examples"] = {k: [ny_iso(ms) for ms in v] for k, v in result.examples.items()}
    data["instants"] = {k: v and ny_iso(v) for k, v in result.instants.items()}
    data["blocks"] = {
        k: [{"start": ny_iso(b.start_ms), "end": ny_iso(b.end_ms), "length": b.length} for b in v]
        for k, v in result.blocks.items()
    }
    return data


def _report_json(report: DayReport | TradeDayReport) -> dict[str, object]:
    return {
        "date": report.trade_date.isoformat(),
        "feed": report.feed,
        "status": report.status,
        "failed": [r.name for r in report.failed],
        "results": [_result_json(r) for r in report.results],
    }


def _when(ms: int, day: date) -> str:
    """New York time of day, with the date when it is not `day`."""
    text = ny_iso(ms)
    return text[11:19] if text[:10] == day.isoformat() else text[:19]


def _evidence(result: IntegrityResult, day: date) -> str:
    counts = ", ".join(f"{k}={v}" for k, v in result.counts.items() if v)
    blocks = [
        f"{_when(b.start_ms, day)}-{_when(b.end_ms, day)} ({b.length})"
        for blocks in result.blocks.values()
        for b in blocks[:3]
    ]
    examples = [_when(ms, day) for stamps in result.examples.values() for ms in stamps[:3]]
    where = "; ".join(blocks) if blocks else ", ".join(examples)
    return f"{counts}" + (f" at {where}" if where else "")


def _print_rows(reports: Sequence[DayReport | TradeDayReport]) -> None:
    """One line per day (status, failed checks), then the evidence of each failed check."""
    for report in reports:
        failed = ", ".join(f"{r.name} ({r.severity})" for r in report.failed) or "-"
        day = report.trade_date
        print(f"{day.isoformat():<11} {report.feed:<22} {report.status:<14} {failed}")
        for result in report.failed:
            print(f"{'':<11}   {result.name}: {_evidence(result, day)}")


def _print_table(reports: list[DayReport]) -> None:
    print(f"{'date':<11} {'feed':<22} {'status':<14} failed checks")
    _print_rows(reports)
    print()
    print("coverage:")
    by_feed: dict[str, Counter[str]] = {}
    for report in reports:
        by_feed.setdefault(report.feed, Counter())[report.status] += 1
    for feed, counts in sorted(by_feed.items()):
        print(f"  {feed:<22} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def run_validate(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the range; 1 when an ERROR check failed, 2 on bad arguments."""
    try:
        start, end = _range(args)
        if end < start:
            raise ValueError("--to: must not be before --from")
        for feed in args.feed or ():
            parse_feed_key(feed)
        limits = Thresholds(
            cadence_seconds=args.cadence,
            max_gap_seconds=args.max_gap or max(5.0, 3 * args.cadence),
        )
    except ValueError as exc:
        print(f"validate: {exc}")
        return 2
    root = args.parquet_root or settings.paths.parquet_dir
    reports = list(validate(root, start, end, args.feed, limits))
    uw_root = args.uw_root or settings.paths.uw_parquet_dir
    trades = [] if args.feed else list(validate_option_trades(uw_root, start, end))
    if args.json:
        print(json.dumps([_report_json(r) for r in [*reports, *trades]], indent=2))
    else:
        print(f"{root}  {start} .. {end} ({TRADING_TZ.key} sessions)")
        _print_table(reports)
        if trades:
            print()
            print("option trades:")
            _print_rows(trades)
    return 1 if any(r.has_error for r in [*reports, *trades]) else 0
