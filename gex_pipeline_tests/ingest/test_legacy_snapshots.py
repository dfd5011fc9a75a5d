"""Snapshots of older clients are normalised (nothing lost); snapshots without market data are
refused; the staged record says where its timestamp came from."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.gex import parse_gex

NOW_MS = 1_763_200_000_000
TS_S = 1_763_130_600


def parse(body: Any) -> dict[str, Any]:
    return parse_gex(orjson.dumps(body), NOW_MS)


def refusal(body: Any) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse(body)
    return caught.value


def test_flat_list_of_max_prior_strikes_becomes_pairs_without_values() -> None:
    record = parse({"ticker": "SPX", "timestamp": TS_S, "max_priors": [6740, "6735.5", 6730]})
    assert record["max_priors"] == [[6740.0, None], [6735.5, None], [6730.0, None]]


def test_max_priors_mixing_pairs_and_bare_strikes_keeps_each() -> None:
    record = parse({"ticker": "SPX", "timestamp": TS_S, "max_priors": [[6740, 12.5], 6735]})
    assert record["max_priors"] == [[6740.0, 12.5], [6735.0, None]]


def test_bare_max_prior_that_is_not_a_number_is_refused_naming_it() -> None:
    body = {"ticker": "SPX", "timestamp": TS_S, "max_priors": [6740, "near"]}
    assert refusal(body).field == "max_priors[1]"


def test_dict_row_fields_beyond_the_row_are_kept_in_extra() -> None:
    rows = [
        [6695, 1.0],
        {"strike": 6700, "gamma_now": 1.5, "gamma": 1.4, "vanna": -2.0, "call_gex": 3.0},
    ]
    record = parse({"ticker": "SPX", "timestamp": TS_S, "strikes": rows})
    assert record["strikes"] == [[6695.0, 1.0, None, None], [6700.0, 1.5, -2.0, None]]
    assert record["extra"] == {"strike_row_fields": [[1, {"gamma": 1.4, "call_gex": 3.0}]]}


def test_dict_row_history_that_is_not_five_numbers_is_kept_not_refused() -> None:
    rows = [{"strike": 6700, "gamma": 1.0, "history": [1.0, 2.0, 3.0]}]
    record = parse({"ticker": "SPX", "timestamp": TS_S, "strikes": rows})
    assert record["strikes"] == [[6700.0, 1.0, None, None]]
    assert record["extra"] == {"strike_row_fields": [[0, {"history": [1.0, 2.0, 3.0]}]]}


def test_dict_row_leftovers_join_the_other_extra_fields() -> None:
    rows = [{"strike": 6700, "gamma": 1.0, "note": "x"}]
    record = parse({"ticker": "SPX", "timestamp": TS_S, "strikes": rows, "vanna": 2.5})
    assert record["extra"] == {"vanna": 2.5, "strike_row_fields": [[0, {"note": "x"}]]}


@pytest.mark.parametrize(
    "body",
    [
        {"ticker": "SPX"},
        {"ticker": "SPX", "timestamp": TS_S, "min_dte": 0, "strikes": []},
        {"ticker": "SPX", "timestamp": TS_S, "max_priors": [], "max_change": {}, "note": "x"},
    ],
)
def test_snapshot_without_market_data_is_refused_naming_what_is_missing(
    body: dict[str, Any],
) -> None:
    error = refusal(body)
    assert (error.status, error.field) == (422, "body")
    assert "no market data" in error.message and "spot" in error.message


def test_envelope_without_market_data_names_the_payload() -> None:
    error = refusal({"ticker": "SPX", "kind": "majors", "payload": {"timestamp": TS_S}})
    assert error.field == "payload"


@pytest.mark.parametrize(
    ("fields", "source", "timestamp"),
    [
        ({"timestamp": TS_S}, "timestamp", TS_S * 1000),
        ({"received_at": TS_S}, "received_at", TS_S * 1000),
        ({}, "arrival", NOW_MS),
    ],
)
def test_record_says_where_its_timestamp_came_from(
    fields: dict[str, Any], source: str, timestamp: int
) -> None:
    record = parse({"ticker": "SPX", "spot": 6734.25, **fields})
    assert (record["timestamp"], record["timestamp_source"]) == (timestamp, source)


def test_too_many_strikes_are_refused_before_any_row_is_read() -> None:
    rows = [[6700 + i, 1.0] for i in range(11)] + [["not", "read"]]
    error = parse_gex_refusal(rows, max_strikes=11)
    assert error.field == "strikes" and "more than 11" in error.message


def parse_gex_refusal(rows: list[Any], max_strikes: int) -> PayloadError:
    body = orjson.dumps({"ticker": "SPX", "timestamp": TS_S, "strikes": rows})
    with pytest.raises(PayloadError) as caught:
        parse_gex(body, NOW_MS, max_strikes=max_strikes)
    return caught.value


def test_max_change_as_a_map_of_window_to_number_is_kept() -> None:
    # the predecessor's FastAPI model: `max_change: Dict[str, float]`
    change = {"1h": 0.05, "24h": "0.12", "current": [6735, 12.5], "five": None}
    record = parse({"ticker": "SPX", "timestamp": TS_S, "spot": 1.0, "max_change": change})
    assert record["max_change"] == {
        "1h": 0.05,
        "24h": 0.12,
        "current": [6735.0, 12.5],
        "five": None,
    }


def test_max_change_window_that_is_neither_pair_nor_number_is_refused_naming_it() -> None:
    error = refusal({"ticker": "SPX", "timestamp": TS_S, "max_change": {"1h": "soon"}})
    assert (error.field, error.message) == (
        "max_change.1h",
        "must be a [strike, delta] pair or a number",
    )


@pytest.mark.parametrize(
    ("sent", "pairs"),
    [
        ("[[6740, 12.5], [6735, 3.0]]", [[6740.0, 12.5], [6735.0, 3.0]]),
        ("[6740, 6735.5]", [[6740.0, None], [6735.5, None]]),
        ("[]", None),
    ],
)
def test_max_priors_sent_as_a_json_string_is_decoded(sent: str, pairs: Any) -> None:
    record = parse({"ticker": "SPX", "timestamp": TS_S, "spot": 1.0, "max_priors": sent})
    assert (record["max_priors"], record["extra"]) == (pairs, None)


def test_max_priors_string_that_holds_no_json_array_is_kept_in_extra() -> None:
    record = parse({"ticker": "SPX", "timestamp": TS_S, "spot": 1.0, "max_priors": "6740;6735"})
    assert (record["max_priors"], record["extra"]) == (None, {"max_priors": "6740;6735"})


def test_alias_sent_with_another_non_zero_value_is_kept_in_extra() -> None:
    body = {"ticker": "SPX", "timestamp": TS_S, "sum_gex_vol": 0, "net_gex_vol": 5.5, "net_gex": 7}
    record = parse({**body, "sum_gex_oi": 2.0, "net_gex_oi": 2.0})
    assert (record["sum_gex_vol"], record["sum_gex_oi"]) == (5.5, 2.0)
    assert record["extra"] == {"net_gex": 7.0}  # the 0 is a placeholder, not kept
