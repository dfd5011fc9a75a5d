"""`gex-pipeline demo ...`: generate demo data files and payloads, or push them through a stack."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gex_pipeline.cli.demo.defects import DEFECT_KINDS, parse_defect_kinds
from gex_pipeline.cli.demo.history_day import FORMS, DaySpec, write_day_file
from gex_pipeline.cli.demo.market import ENDPOINTS
from gex_pipeline.cli.demo.session import NEW_YORK, parse_trade_date
from gex_pipeline.settings import Settings

if TYPE_CHECKING:
    from gex_pipeline.cli.demo.stack_demo import Tally

DEFAULT_FILE_SERVER_PORT = 8879


def _start_ts(value: str | None) -> int:
    """Epoch seconds from `--start` (epoch seconds or ISO-8601 with offset); now when omitted."""
    if value is None:
        return int(time.time())
    if value.isdigit():
        return int(value)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"start: expected epoch seconds or ISO-8601, got {value!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"start: ISO-8601 time needs Z or an offset, got {value!r}")
    return int(moment.timestamp())


def add_demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo` and its subcommands on the main parser's subparsers."""
    demo = sub.add_parser("demo", help="generate demo data, or push a demo stream through a stack")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, metavar="DEMO_COMMAND")

    day = demo_sub.add_parser("history-file", help="write a history day file and its manifest")
    day.add_argument("--date", required=True, help="trade date YYYY-MM-DD")
    day.add_argument("--out", required=True, type=Path, help="output directory")
    day.add_argument("--ticker", default="SPX")
    day.add_argument("--endpoint", default="gex_zero", choices=ENDPOINTS)
    day.add_argument("--seed", type=int, default=0)
    day.add_argument("--snapshots", type=int, default=None, help="default: the whole session")
    day.add_argument("--cadence", type=int, default=1, help="seconds between snapshots")
    day.add_argument("--strikes", type=int, default=100)
    day.add_argument("--plain", action="store_true", help="plain JSON instead of gzip")
    day.add_argument("--form", default="array", choices=FORMS)
    day.add_argument(
        "--defects", default="", help=f"comma list of defects to inject: {','.join(DEFECT_KINDS)}"
    )

    payloads = demo_sub.add_parser("payloads", help="print request bodies as NDJSON")
    payloads.add_argument("--kind", choices=("gex", "uw"), default="gex")
    payloads.add_argument("--count", type=int, default=10)
    payloads.add_argument("--seed", type=int, default=0)
    payloads.add_argument("--start", default=None, help="epoch seconds or ISO-8601; default now")
    payloads.add_argument("--strikes", type=int, default=100)

    run = demo_sub.add_parser("run", help="post a live stream, UW messages and a history import")
    run.add_argument("--api", default=None, help="ingest API URL; default from GEX_INGEST_*")
    run.add_argument("--seconds", type=int, default=5, help="length of the live stream")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--file-server-port", type=int, default=DEFAULT_FILE_SERVER_PORT)
    run.add_argument(
        "--history-timeout", type=float, default=60.0, help="seconds to wait for the import"
    )


def cmd_history_file(args: argparse.Namespace) -> int:
    """Write one day file; print its path and its manifest's path."""
    spec = DaySpec(
        trade_date=parse_trade_date(args.date),
        ticker=args.ticker,
        endpoint=args.endpoint,
        seed=args.seed,
        snapshots=args.snapshots,
        cadence=args.cadence,
        strikes=args.strikes,
        compressed=not args.plain,
        form=args.form,
        defects=parse_defect_kinds(args.defects),
    )
    started = time.perf_counter()
    day = write_day_file(args.out, spec)
    m = day.manifest
    kinds = ", ".join(d.kind for d in m.defects) or "none"
    print(day.path)
    print(day.manifest_path)
    print(
        f"{m.records} records, {m.bytes:,} bytes in {time.perf_counter() - started:.1f} s; "
        f"defects: {kinds}",
        file=sys.stderr,
    )
    return 0


def _bodies(args: argparse.Namespace) -> Iterator[Any]:
    from gex_pipeline.cli.demo.live import gex_payloads
    from gex_pipeline.cli.demo.uw import UwStream

    if args.count < 0:
        raise ValueError(f"count: must be >= 0, got {args.count}")
    start = _start_ts(args.start)
    if args.kind == "gex":
        return gex_payloads(args.count, args.seed, start, strikes=args.strikes)
    return UwStream(args.seed, start).messages(args.count)


def cmd_payloads(args: argparse.Namespace) -> int:
    """Print `--count` request bodies, one JSON document per line (each line is a POST body)."""
    for body in _bodies(args):
        sys.stdout.write(json.dumps(body, separators=(",", ":")) + "\n")
    return 0


def _print_tally(name: str, tally: Tally) -> None:
    line = f"  {name}: {tally.accepted} accepted"
    if tally.ignored:
        line += f", {tally.ignored} control frames acknowledged and dropped"
    if tally.refused:
        line += f", {tally.refused} REFUSED ({'; '.join(tally.refusals)})"
    print(line)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Push demo data through a running stack and print what was accepted."""
    import httpx

    from gex_pipeline.cli.demo.stack_demo import (
        history_env_hint,
        history_trade_date,
        post_live_stream,
        post_uw_messages,
        run_history_import,
    )

    if args.seconds < 1:
        raise ValueError(f"seconds: must be >= 1, got {args.seconds}")
    if args.history_timeout < 0:
        raise ValueError(f"history-timeout: must be >= 0, got {args.history_timeout}")
    # Before anything is posted: a date the calendar cannot give stops the demo unchanged.
    trade_date = history_trade_date(dt.datetime.now(NEW_YORK).date())
    api = args.api or f"http://{settings.api.host}:{settings.api.port}"
    headers = {"Authorization": f"Bearer {settings.api.token}"} if settings.api.token else {}
    with httpx.Client(base_url=api, headers=headers, timeout=10.0) as client:
        try:
            client.get("/health").raise_for_status()
        except httpx.HTTPError as exc:
            print(f"no ingest API answers at {api} ({exc}); start it with `gex-pipeline up`")
            return 1
        live = post_live_stream(client, args.seconds, args.seed, print)
        uw = post_uw_messages(client, args.seed, print)
        with tempfile.TemporaryDirectory(prefix="gex-demo-") as work:
            try:
                history = run_history_import(
                    client,
                    Path(work),
                    trade_date,
                    args.file_server_port,
                    args.history_timeout,
                    args.seed,
                    print,
                )
            except OSError as exc:
                print(
                    f"cannot serve the history file on 127.0.0.1:{args.file_server_port} ({exc});"
                )
                print("choose another port with --file-server-port")
                return 1
    print("summary:")
    _print_tally("POST /gex", live)
    _print_tally("POST /uw", uw)
    ok = not live.refused and not uw.refused
    if history.refusal is not None:
        print(f"  POST /gex_history_url: REFUSED {history.refusal}")
        print("  to accept the demo's local http download, start the stack with:")
        print(f"    {history_env_hint(args.file_server_port)} gex-pipeline up")
        return 1
    print(f"  POST /gex_history_url: queued {history.file_name} as {history.request_id}")
    print(f"  file server: {history.downloads} download(s) of {history.url}")
    if history.state in ("done", "failed"):
        print(f"  history import: {history.state}; rows {history.rows}; reason {history.reason}")
        return 0 if ok and history.state == "done" else 1
    print(
        f"  history import: still {history.state} after {args.history_timeout:.0f} s "
        "(is the Dagster daemon running? `gex-pipeline up` starts it)"
    )
    return 0 if ok else 1


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch `gex-pipeline demo <command>`; bad arguments exit 2 with the field named."""
    try:
        if args.demo_command == "history-file":
            return cmd_history_file(args)
        if args.demo_command == "payloads":
            return cmd_payloads(args)
        return cmd_run(args, settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
