"""`parse_history_request`: url, ticker, endpoint and trading date resolved; file name wins."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import pytest

from gex_pipeline.lib.history.url_policy import UrlPolicy, UrlRefused
from gex_pipeline.lib.payloads.errors import InvalidJson, PayloadError
from gex_pipeline.lib.payloads.history import HistoryRequest, parse_history_request
from gex_pipeline.settings import DEFAULT_HISTORY_HOSTS

POLICY = UrlPolicy(DEFAULT_HISTORY_HOSTS)
BLOB = "https://nfagexbotresearch.blob.core.windows.net/hist/"
QUERY = "?sv=2024-01-01&se=2025-11-14T22%3A00%3A00Z&sig=SECRETSIG"
NDX_URL = BLOB + "2025-11-14_NQ_NDX_classic_gex_zero.json.gz" + QUERY
SPX_URL = "https://hist.gex.bot/gb-spx/2025-11-14_SPX_classic_gex_full.json"


def parse(body: Any) -> HistoryRequest:
    return parse_history_request(
        body if isinstance(body, str | bytes) else json.dumps(body), POLICY
    )


def refusal(body: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body)
    return info.value


def test_plain_request_is_resolved() -> None:
    request = parse({"url": SPX_URL, "endpoint": "gex_full", "ticker": "SPX"})
    assert (request.ticker, request.endpoint, request.trade_date) == (
        "SPX",
        "gex_full",
        date(2025, 11, 14),
    )
    assert request.file_name == "2025-11-14_SPX_classic_gex_full.json"
    assert request.overrides == {} and request.metadata is None


def test_beacon_text_body_is_parsed_as_json() -> None:
    body = '{"url":"' + NDX_URL + '","gex_type":"gex_zero","ticker":"NQ_NDX"}'
    assert parse(body.encode()).ticker == "NQ_NDX"


def test_signed_url_is_kept_whole_and_keyed_without_its_query() -> None:
    request = parse({"url": NDX_URL})
    assert request.url == NDX_URL
    assert request.url_key == BLOB + "2025-11-14_NQ_NDX_classic_gex_zero.json.gz"
    assert request.url_hash == hashlib.sha256(NDX_URL.encode()).hexdigest()


def test_repost_with_a_new_signature_has_the_same_key_and_a_new_hash() -> None:
    first = parse({"url": NDX_URL})
    second = parse({"url": NDX_URL.replace("SECRETSIG", "NEWSIG")})
    assert first.url_key == second.url_key and first.url_hash != second.url_hash


def test_repr_never_shows_the_signature() -> None:
    assert "SECRETSIG" not in repr(parse({"url": NDX_URL}))


def test_file_name_fills_ticker_endpoint_and_date_when_the_body_lacks_them() -> None:
    request = parse({"url": NDX_URL})
    assert (request.ticker, request.endpoint, request.trade_date) == (
        "NQ_NDX",
        "gex_zero",
        date(2025, 11, 14),
    )


def test_file_name_ticker_wins_over_the_body_and_the_override_is_recorded() -> None:
    request = parse({"url": NDX_URL, "gex_type": "gex_zero", "ticker": "NDX"})
    assert request.ticker == "NQ_NDX"
    assert request.overrides == {"ticker": "NDX"}


def test_file_name_endpoint_wins_over_the_body_and_the_override_is_recorded() -> None:
    request = parse({"url": NDX_URL, "feed": "gex_full"})
    assert request.endpoint == "gex_zero"
    assert request.overrides == {"endpoint": "gex_full"}


def test_body_agreeing_with_the_file_name_records_no_override() -> None:
    assert parse({"url": NDX_URL, "symbol": "nq_ndx", "kind": "GEX_ZERO"}).overrides == {}


@pytest.mark.parametrize("key", ["endpoint", "gex_type", "type", "feed", "kind", "anything"])
def test_endpoint_is_found_under_any_key_holding_a_gex_value(key: str) -> None:
    url = "https://hist.gex.bot/x/day.json"
    body = {"url": url, key: "gex_one", "ticker": "SPX", "trade_date": "2025-11-14"}
    assert parse(body).endpoint == "gex_one"


def test_non_gex_values_are_not_taken_for_the_endpoint() -> None:
    body = {
        "url": "https://hist.gex.bot/x/day.json",
        "kind": "classic",
        "type": "gex_full",
        "ticker": "SPX",
    }
    assert parse({**body, "trade_date": "2025-11-14"}).endpoint == "gex_full"


@pytest.mark.parametrize("key", ["ticker", "symbol", "underlying"])
def test_ticker_is_read_from_any_of_its_keys(key: str) -> None:
    body = {
        "url": "https://hist.gex.bot/x/day.json",
        key: "es_spx",
        "endpoint": "gex_zero",
        "date": "2025-11-14",
    }
    assert parse(body).ticker == "ES_SPX"


def test_metadata_object_is_kept() -> None:
    assert parse({"url": SPX_URL, "metadata": {"page": "hist", "n": 3}}).metadata == {
        "page": "hist",
        "n": 3,
    }


def test_url_encoded_file_name_is_decoded() -> None:
    request = parse({"url": BLOB + "2025-11-14_NQ%5FNDX_classic_gex_zero.json.gz" + QUERY})
    assert (request.file_name, request.ticker) == (
        "2025-11-14_NQ_NDX_classic_gex_zero.json.gz",
        "NQ_NDX",
    )


def test_surrounding_whitespace_of_the_url_is_ignored() -> None:
    assert parse({"url": f"  {SPX_URL}\n"}).url == SPX_URL


# --- refusals ---------------------------------------------------------------------------------


def test_no_ticker_in_body_or_file_name_is_refused_naming_ticker() -> None:
    body = {
        "url": "https://hist.gex.bot/x/day.json",
        "endpoint": "gex_zero",
        "trade_date": "2025-11-14",
    }
    assert refusal(body).field == "ticker"


def test_empty_ticker_without_a_file_name_ticker_is_refused() -> None:
    body = {
        "url": "https://hist.gex.bot/x/day.json",
        "ticker": " ",
        "endpoint": "gex_zero",
        "date": "2025-11-14",
    }
    assert refusal(body).field == "ticker"


def test_no_endpoint_in_body_or_file_name_is_refused_not_defaulted() -> None:
    body = {"url": "https://hist.gex.bot/x/day.json", "ticker": "SPX", "trade_date": "2025-11-14"}
    assert refusal(body).field == "endpoint"


def test_no_trading_date_in_body_or_file_name_is_refused() -> None:
    body = {"url": "https://hist.gex.bot/x/day.json", "ticker": "SPX", "endpoint": "gex_zero"}
    assert refusal(body).field == "trade_date"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"ticker": "BRK.B"}, "ticker"),
        ({"symbol": 5}, "symbol"),
        ({"gex_type": "gex_two"}, "gex_type"),
        ({"metadata": "x"}, "metadata"),
        ({"metadata": [1]}, "metadata"),
    ],
)
def test_invalid_body_value_is_refused_naming_its_key(extra: dict[str, Any], field: str) -> None:
    assert refusal({"url": NDX_URL, **extra}).field == field


def test_invalid_trade_date_is_refused_naming_it() -> None:
    body = {
        "url": "https://hist.gex.bot/x/day.json",
        "ticker": "SPX",
        "endpoint": "gex_zero",
        "date": "14/11/2025",
    }
    assert refusal(body).field == "date"


@pytest.mark.parametrize("body", [{}, {"url": None}, {"url": 5}, {"ticker": "SPX"}])
def test_missing_or_non_string_url_is_refused_naming_url(body: dict[str, Any]) -> None:
    assert refusal(body).field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/?hist.gex.bot",
        "https://hist.gex.bot@evil.example/2025-11-14_SPX_classic_gex_full.json",
        "http://hist.gex.bot/2025-11-14_SPX_classic_gex_full.json",
        "https://127.0.0.1/2025-11-14_SPX_classic_gex_full.json",
    ],
)
def test_url_refused_by_the_policy_is_a_url_refusal(url: str) -> None:
    with pytest.raises(UrlRefused):
        parse({"url": url, "ticker": "SPX"})


def test_url_without_a_file_name_is_refused() -> None:
    assert refusal({"url": "https://hist.gex.bot/dir/", "ticker": "SPX"}).field == "url"


def test_refusal_never_quotes_the_signature() -> None:
    error = refusal({"url": NDX_URL.replace("nfagexbotresearch", "someoneelse")})
    assert "SECRETSIG" not in str(error)


def test_invalid_json_is_a_400() -> None:
    with pytest.raises(InvalidJson):
        parse('{"url": ')


@pytest.mark.parametrize("body", ["[]", '"https://hist.gex.bot/x.json"', "null"])
def test_body_that_is_not_an_object_is_refused_naming_body(body: str) -> None:
    assert refusal(body).field == "body"


def test_metadata_nested_too_deep_is_refused_naming_metadata() -> None:
    deep: Any = {}
    for _ in range(70):
        deep = {"k": deep}
    assert refusal({"url": NDX_URL, "metadata": deep}).field == "metadata"


@pytest.mark.parametrize("name", ["..%2F..%2Fday.json", "a%5Cb.json", "a%00.json", "a%0A.json"])
def test_file_name_that_is_not_a_plain_name_is_refused_naming_url(name: str) -> None:
    body = {"url": f"https://hist.gex.bot/x/{name}", "ticker": "SPX", "endpoint": "gex_zero"}
    assert refusal({**body, "trade_date": "2025-11-14"}).field == "url"


@pytest.mark.parametrize("name", ["%FF%FE.json", "b" * 196 + ".json", "%C3%A9" * 99 + ".json"])
def test_file_name_not_utf8_or_too_long_for_a_local_file_is_refused_naming_url(name: str) -> None:
    body = {"url": f"https://hist.gex.bot/x/{name}", "ticker": "SPX", "endpoint": "gex_zero"}
    assert refusal({**body, "trade_date": "2025-11-14"}).field == "url"


def test_file_name_of_200_bytes_is_kept() -> None:
    name = "b" * 195 + ".json"
    body = {"url": f"https://hist.gex.bot/x/{name}", "ticker": "SPX", "endpoint": "gex_zero"}
    assert parse({**body, "trade_date": "2025-11-14"}).file_name == name
