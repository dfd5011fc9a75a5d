"""`POST /gex_history_url`: one historical day file to import (body parsed as JSON whatever its
Content-Type: `navigator.sendBeacon` posts text/plain).

Resolution rules:
- `url` is required and must pass the URL policy (`gex_pipeline.lib.history.url_policy.check_url`); its
  last path segment, decoded, is the file name: UTF-8, at most `MAX_FILE_NAME_BYTES` bytes, with
  no `/`, `\\` or control character.
- ticker from `ticker`, `symbol` or `underlying`; endpoint from the first string starting with
  `gex_` under `endpoint`, `gex_type`, `type`, `feed`, `kind`, then any other key. Empty strings
  count as absent; other invalid values are refused naming their key.
- the file name (`YYYY-MM-DD_<TICKER>_classic_<endpoint>.json[.gz]`) wins over the body; what the
  body said differently is kept in `overrides`. Each part is read from the name on its own (older
  clients posted `YYYY-MM-DD_<TICKER>_classic.json[.gz]`, the endpoint in the body); what the name
  does not give the body must give (`trade_date` or `date` for the date), nothing is guessed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import unquote

from gex_pipeline.lib.history.names import parse_day_file_name
from gex_pipeline.lib.history.url_policy import UrlPolicy, check_url, url_key
from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.gex import normalise_endpoint, normalise_ticker
from gex_pipeline.lib.payloads.jsonbody import check_depth, json_type, load_json_object

TICKER_KEYS = ("ticker", "symbol", "underlying")
ENDPOINT_KEYS = ("endpoint", "gex_type", "type", "feed", "kind")
DATE_KEYS = ("trade_date", "date")
FILE_NAME_PATTERN = "YYYY-MM-DD_<TICKER>_classic_<endpoint>.json[.gz]"
# local file names stay below NAME_MAX (255 bytes) with the importer's prefixes and suffixes
MAX_FILE_NAME_BYTES = 200
_NOT_IN_A_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")
# Parts of a day-file name read one by one when the whole pattern does not match.
_NAME_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?=[_.]|$)")
_NAME_TICKER = re.compile(
    r"\d{4}-\d{2}-\d{2}_([A-Z0-9](?:[A-Z0-9_]{0,14}[A-Z0-9])?)_classic(?=[_.])", re.IGNORECASE
)
_NAME_ENDPOINT = re.compile(r"_classic_(gex_zero|gex_one|gex_full)(?=\.)", re.IGNORECASE)


@dataclass(frozen=True)
class DayRequest:
    """What a request for one day file names: its feed-day, the file, what the body said
    differently from the file name (`overrides`) and the client's `metadata`."""

    ticker: str
    endpoint: str
    trade_date: date
    file_name: str
    overrides: dict[str, str]
    metadata: dict[str, Any] | None

    def day_record(self) -> dict[str, Any]:
        """These fields, JSON-ready (the inverse of `day_fields`)."""
        return {
            "ticker": self.ticker,
            "endpoint": self.endpoint,
            "trade_date": self.trade_date.isoformat(),
            "file_name": self.file_name,
            "overrides": dict(self.overrides),
            "metadata": self.metadata,
        }

    @staticmethod
    def day_fields(record: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of these fields read from a `day_record`."""
        return {
            **{name: record[name] for name in ("ticker", "endpoint", "file_name", "overrides")},
            "trade_date": date.fromisoformat(record["trade_date"]),
            "metadata": record["metadata"],
        }


@dataclass(frozen=True)
class HistoryRequest(DayRequest):
    """A validated import request. `url` holds the signature: it is left out of `repr`."""

    url: str = field(repr=False)
    url_key: str
    url_hash: str


def parse_history_request(body: bytes | str, policy: UrlPolicy) -> HistoryRequest:
    """Validate a `/gex_history_url` body; `PayloadError` (422) or `InvalidJson` (400) naming the
    field (`url`, `ticker`, `gex_type`, `metadata`, ...). Messages never quote the URL.
    """
    data = load_json_object(body)
    raw_url = data.get("url")
    if raw_url is None:
        raise PayloadError("url", "is required")
    if type(raw_url) is not str:
        raise PayloadError("url", f"must be a string, got {json_type(raw_url)}")
    url = raw_url.strip()
    parts = check_url(url, policy)
    file_name = _file_name(parts.path)

    body_ticker = _body_ticker(data)
    body_endpoint = _body_endpoint(data)
    metadata = data.get("metadata")
    if metadata is not None and type(metadata) is not dict:
        raise PayloadError("metadata", f"must be an object, got {json_type(metadata)}")
    check_depth(metadata, "metadata")

    name_ticker, name_endpoint, name_date = name_parts(file_name)
    overrides: dict[str, str] = {}
    if name_ticker is not None and body_ticker not in (None, name_ticker):
        overrides["ticker"] = body_ticker
    if name_endpoint is not None and body_endpoint not in (None, name_endpoint):
        overrides["endpoint"] = body_endpoint
    ticker = name_ticker or _required(body_ticker, "ticker", "ticker, symbol or underlying")
    endpoint = name_endpoint or _required(
        body_endpoint, "endpoint", "a gex_* value (endpoint, gex_type, ...)"
    )
    trade_date = name_date or _required(_body_date(data), "trade_date", "trade_date or date")

    return HistoryRequest(
        url=url,
        url_key=url_key(url),
        url_hash=hashlib.sha256(url.encode("utf-8")).hexdigest(),
        ticker=ticker,
        endpoint=endpoint,
        trade_date=trade_date,
        file_name=file_name,
        overrides=overrides,
        metadata=metadata,
    )


def name_parts(file_name: str) -> tuple[str | None, str | None, date | None]:
    """(ticker, endpoint, trading date) that `file_name` gives, each None when it does not."""
    named = parse_day_file_name(file_name)
    if named is not None:
        return named.ticker, named.endpoint, named.trade_date
    ticker = _NAME_TICKER.match(file_name)
    endpoint = _NAME_ENDPOINT.search(file_name)
    day = _NAME_DATE.match(file_name)
    try:
        trade_date = date.fromisoformat(day.group(1)) if day else None
    except ValueError:
        trade_date = None
    return (
        ticker.group(1).upper() if ticker else None,
        endpoint.group(1).lower() if endpoint else None,
        trade_date,
    )


def _file_name(path: str) -> str:
    """The decoded last segment of `path`: the importer stores the download under this name."""
    try:
        name = unquote(path.rsplit("/", 1)[-1], errors="strict")
    except UnicodeDecodeError:
        raise PayloadError("url", "file name is not valid UTF-8 once percent-decoded") from None
    if not name:
        raise PayloadError("url", "has no file name")
    if _NOT_IN_A_NAME.search(name):
        raise PayloadError("url", "file name must not hold path separators or control characters")
    if len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        raise PayloadError("url", f"file name is longer than {MAX_FILE_NAME_BYTES} bytes")
    return name


def _required(value: Any, field_name: str, keys: str) -> Any:
    if value is None:
        raise PayloadError(
            field_name,
            f"is required: the file name ({FILE_NAME_PATTERN}) does not give it and the body "
            f"has no {keys}",
        )
    return value


def _present(value: Any) -> bool:
    return value is not None and not (type(value) is str and not value.strip())


def _body_ticker(data: dict[str, Any]) -> str | None:
    for key in TICKER_KEYS:
        if _present(data.get(key)):
            return normalise_ticker(data[key], key)
    return None


def _body_endpoint(data: dict[str, Any]) -> str | None:
    skip = {"url", "metadata", *TICKER_KEYS, *ENDPOINT_KEYS}
    keys = [*ENDPOINT_KEYS, *(key for key in data if key not in skip)]
    for key in keys:
        value = data.get(key)
        if type(value) is str and value.strip().lower().startswith("gex_"):
            return normalise_endpoint(value, key)
    return None


def _body_date(data: dict[str, Any]) -> date | None:
    for key in DATE_KEYS:
        value = data.get(key)
        if _present(value):
            if type(value) is not str:
                raise PayloadError(key, f"must be a YYYY-MM-DD string, got {json_type(value)}")
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise PayloadError(key, "must be a YYYY-MM-DD date") from None
    return None
