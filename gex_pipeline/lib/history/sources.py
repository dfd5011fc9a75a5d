"""Where a date x feed partition's day file comes from: the kept raw file or a live request."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gex_pipeline.lib.history.names import parse_day_file_name
from gex_pipeline.lib.staging.history_store import HistoryStore, StoredRequest


def raw_dir(source_dir: Path, ticker: str, endpoint: str) -> Path:
    """Folder of kept raw day files of one feed: `<source_dir>/<TICKER>/<endpoint>/`."""
    return source_dir / ticker / endpoint


def raw_file_name(trade_date: date, ticker: str, endpoint: str, compressed: bool) -> str:
    """Name a kept raw file gets: the vendor's pattern, `.gz` only when the bytes are gzip."""
    suffix = ".json.gz" if compressed else ".json"
    return f"{trade_date.isoformat()}_{ticker}_classic_{endpoint}{suffix}"


def kept_raw_files(source_dir: Path, ticker: str, endpoint: str, trade_date: date) -> list[Path]:
    """Kept raw files named for (trade_date, ticker, endpoint), newest first."""
    folder = raw_dir(source_dir, ticker, endpoint)
    if not folder.is_dir():
        return []
    matches = []
    for path in folder.iterdir():
        name = parse_day_file_name(path.name)
        if (
            path.is_file()
            and name is not None
            and (name.trade_date, name.ticker, name.endpoint) == (trade_date, ticker, endpoint)
        ):
            matches.append(path)
    return sorted(matches, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def find_raw_file(source_dir: Path, ticker: str, endpoint: str, trade_date: date) -> Path | None:
    """The newest kept raw file for (trade_date, ticker, endpoint), or None."""
    return next(iter(kept_raw_files(source_dir, ticker, endpoint, trade_date)), None)


def find_request(
    store: HistoryStore, ticker: str, endpoint: str, trade_date: date
) -> StoredRequest | None:
    """The most recently posted request for (trade_date, ticker, endpoint) whose link is still
    kept (not yet done or failed), or None."""
    found = None
    for request_id in store.list_request_ids():
        request = store.load_request(request_id)
        if request is None or request.signed_url is None:
            continue
        if (request.trade_date, request.ticker, request.endpoint) != (trade_date, ticker, endpoint):
            continue
        if found is None or request.last_posted_at > found.last_posted_at:
            found = request
    return found
