"""Where a date x feed partition's day file comes from: the kept raw file or a live request."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gex_pipeline.lib.history_names import parse_day_file_name
from gex_pipeline.lib.staging.history_store import HistoryStore, StoredRequest


def raw_dir(source_dir: Path, ticker: str, endpoint: str) -> Path:
    """Folder of kept raw day files of one feed: `<source_dir>/<TICKER>/<endpoint>/`."""
    return source_dir / ticker / endpoint


def find_raw_file(source_dir: Path, ticker: str, endpoint: str, trade_date: date) -> Path | None:
    """The newest kept raw file named for (trade_date, ticker, endpoint), or None."""
    folder = raw_dir(source_dir, ticker, endpoint)
    if not folder.is_dir():
        return None
    matches = []
    for path in folder.iterdir():
        name = parse_day_file_name(path.name)
        if (
            path.is_file()
            and name is not None
            and (name.trade_date, name.ticker, name.endpoint) == (trade_date, ticker, endpoint)
        ):
            matches.append(path)
    return max(matches, key=lambda p: p.stat().st_mtime_ns, default=None)


def find_request(
    store: HistoryStore, ticker: str, endpoint: str, trade_date: date
) -> StoredRequest | None:
    """The most recently posted request for (trade_date, ticker, endpoint), or None."""
    found = None
    for request_id in store.list_request_ids():
        request = store.load_request(request_id)
        if request is None:
            continue
        if (request.trade_date, request.ticker, request.endpoint) != (trade_date, ticker, endpoint):
            continue
        if found is None or request.last_posted_at > found.last_posted_at:
            found = request
    return found
