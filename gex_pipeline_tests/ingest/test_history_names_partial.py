"""History requests take each part the file name gives (date, ticker, endpoint) on its own."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from gex_pipeline.lib.history.url_policy import UrlPolicy
from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.history import HistoryRequest, name_parts, parse_history_request
from gex_pipeline.settings import DEFAULT_HISTORY_HOSTS

POLICY = UrlPolicy(DEFAULT_HISTORY_HOSTS)
BLOB = "https://nfagexbotresearch.blob.core.windows.net/hist/"
OLD_NAME = "2025-11-14_NQ_NDX_classic.json.gz"


def parse(body: dict[str, Any]) -> HistoryRequest:
    return parse_history_request(json.dumps(body), POLICY)


@pytest.mark.parametrize("key", ["gex_type", "type", "endpoint", "feed"])
def test_name_without_endpoint_takes_the_endpoint_from_the_body(key: str) -> None:
    request = parse({"url": f"{BLOB}{OLD_NAME}?sig=S", key: "gex_one"})
    assert (request.ticker, request.endpoint, request.trade_date) == (
        "NQ_NDX",
        "gex_one",
        date(2025, 11, 14),
    )
    assert request.overrides == {}


def test_name_without_endpoint_and_a_body_without_one_is_refused_naming_endpoint() -> None:
    with pytest.raises(PayloadError) as caught:
        parse({"url": f"{BLOB}{OLD_NAME}", "ticker": "NQ_NDX"})
    assert caught.value.field == "endpoint"


def test_name_ticker_still_wins_when_the_endpoint_comes_from_the_body() -> None:
    request = parse({"url": f"{BLOB}{OLD_NAME}", "ticker": "NDX", "gex_type": "gex_zero"})
    assert (request.ticker, request.overrides) == ("NQ_NDX", {"ticker": "NDX"})


def test_name_with_only_a_date_takes_ticker_and_endpoint_from_the_body() -> None:
    request = parse({"url": f"{BLOB}2025-11-14.json", "symbol": "spx", "kind": "gex_full"})
    assert (request.ticker, request.endpoint, request.trade_date) == (
        "SPX",
        "gex_full",
        date(2025, 11, 14),
    )


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("2025-11-14_ES_SPX_classic_gex_one.json", ("ES_SPX", "gex_one", date(2025, 11, 14))),
        ("2025-11-14_ES_SPX_classic.json", ("ES_SPX", None, date(2025, 11, 14))),
        ("2025-11-14_SPX_classic.json.gz", ("SPX", None, date(2025, 11, 14))),
        ("2025-02-30_SPX_classic.json", ("SPX", None, None)),
        ("day.json", (None, None, None)),
        ("export_classic_gex_zero.json", (None, "gex_zero", None)),
    ],
)
def test_name_parts_are_read_one_by_one(name: str, parts: tuple[object, ...]) -> None:
    assert name_parts(name) == parts
