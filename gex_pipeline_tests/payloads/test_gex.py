"""`parse_gex`: every `/gex` shape of the contract normalised, every refusal naming its field."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from gex_pipeline.lib.payloads.errors import InvalidJson, PayloadError
from gex_pipeline.lib.payloads.gex import CONTENT_FIELDS, parse_gex

NOW_MS = 1_763_200_000_000  # 2025-11-15T09:46:40Z, the arrival time of every test body
TS_S = 1_763_130_600  # 2025-11-14T14:30:00Z
TS_MS = TS_S * 1000

RECORD_KEYS = [
    "id", "received_at", "ticker", "endpoint", "kind", "timestamp", "timestamp_source",
    "spot", "zero_gamma", "sum_gex_vol", "sum_gex_oi",
    "major_pos_vol", "major_neg_vol", "major_pos_oi", "major_neg_oi",
    "min_dte", "sec_min_dte", "delta_risk_reversal",
    "max_priors", "max_change", "strikes", "extra", "content_hash",
]  # fmt: skip


def flat(**fields: Any) -> dict[str, Any]:
    """A valid flat snapshot, overridden by `fields` (a None value removes the key)."""
    body: dict[str, Any] = {
        "ticker": "SPX",
        "timestamp": TS_S,
        "endpoint": "gex_zero",
        "min_dte": 0,
        "sec_min_dte": 1,
        "spot": 6734.25,
        "zero_gamma": 6708.6,
        "major_pos_vol": 6735,
        "major_pos_oi": 6800,
        "major_neg_vol": 6700,
        "major_neg_oi": 6500,
        "sum_gex_vol": 1712585.519,
        "sum_gex_oi": 51521.105,
        "delta_risk_reversal": 0.118,
        "strikes": [
            [6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]],
            [6735, 132.54, 9.27, [127.89, 99.27, 91.41, 80.33, 77.31]],
        ],
        "max_priors": [[6740, 170979.742], [6735, 1145886.722]],
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def parse(body: Any) -> dict[str, Any]:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return parse_gex(raw, NOW_MS)


def refusal(body: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body)
    return info.value


# --- shapes -----------------------------------------------------------------------------------


def test_flat_snapshot_becomes_a_record_with_exactly_the_contract_keys() -> None:
    record = parse(flat())
    assert list(record) == RECORD_KEYS


def test_flat_snapshot_values_are_normalised() -> None:
    record = parse(flat())
    assert record["ticker"] == "SPX"
    assert record["endpoint"] == "gex_zero"
    assert record["kind"] == "snapshot"
    assert record["timestamp"] == TS_MS
    assert record["received_at"] == NOW_MS
    assert record["spot"] == 6734.25
    assert record["major_pos_vol"] == 6735.0 and type(record["major_pos_vol"]) is float
    assert (record["min_dte"], record["sec_min_dte"]) == (0, 1)
    assert record["max_priors"] == [[6740.0, 170979.742], [6735.0, 1145886.722]]
    assert record["strikes"][0] == [6700.0, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]]


def test_record_id_is_a_fresh_uuid4_hex_per_payload() -> None:
    first, second = parse(flat())["id"], parse(flat())["id"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_record_serialises_as_strict_json() -> None:
    record = parse(flat(extra_field={"a": [1.5, "x"]}))
    assert json.loads(json.dumps(record, allow_nan=False)) == record


def test_lowercase_ticker_is_upper_cased() -> None:
    assert parse(flat(ticker=" nq_ndx "))["ticker"] == "NQ_NDX"


def test_missing_endpoint_defaults_to_gex_zero() -> None:
    assert parse(flat(endpoint=None))["endpoint"] == "gex_zero"


@pytest.mark.parametrize("endpoint", ["gex_zero", "gex_one", "gex_full", "GEX_FULL"])
def test_known_endpoints_are_accepted(endpoint: str) -> None:
    assert parse(flat(endpoint=endpoint))["endpoint"] == endpoint.lower()


@pytest.mark.parametrize("kind", ["snapshot", "majors", "maxchange"])
def test_envelope_kind_is_kept(kind: str) -> None:
    payload = {"timestamp": TS_S, "spot": 25190.75}
    body = {"ticker": "NQ_NDX", "endpoint": "gex_one", "kind": kind, "payload": payload}
    record = parse(body)
    assert (record["ticker"], record["endpoint"], record["kind"]) == ("NQ_NDX", "gex_one", kind)


def test_envelope_payload_fields_are_read() -> None:
    body = {
        "ticker": "NQ_NDX",
        "received_at": "2025-11-13T16:45:59Z",
        "payload": {
            "ticker": "NQ_NDX",
            "timestamp": "2025-11-13T16:45:59Z",
            "spot": 25190.75,
            "net_gex_vol": -1234.56,
            "net_gex_oi": 2345.67,
            "strikes": [[25097.21, -393.404, -1911.78], [25187.21, 10.07]],
        },
    }
    record = parse(body)
    assert record["spot"] == 25190.75
    assert (record["sum_gex_vol"], record["sum_gex_oi"]) == (-1234.56, 2345.67)
    assert record["strikes"] == [
        [25097.21, -393.404, -1911.78, None],
        [25187.21, 10.07, None, None],
    ]


def test_envelope_ticker_is_used_when_the_payload_has_none() -> None:
    body = {"ticker": "es_spx", "payload": {"timestamp": TS_S, "spot": 6700.5}}
    assert parse(body)["ticker"] == "ES_SPX"


def test_payload_ticker_is_used_when_the_envelope_has_none() -> None:
    assert (
        parse({"kind": "majors", "payload": {"ticker": "SPY", "timestamp": TS_S, "spot": 1.0}})[
            "ticker"
        ]
        == "SPY"
    )


def test_envelope_and_payload_tickers_that_disagree_are_refused() -> None:
    error = refusal({"ticker": "SPX", "payload": {"ticker": "NDX", "timestamp": TS_S}})
    assert error.field == "payload.ticker"


def test_double_encoded_body_is_decoded_once_more() -> None:
    assert parse(json.dumps(json.dumps(flat(ticker="qqq"))))["ticker"] == "QQQ"


def test_double_encoded_envelope_payload_is_decoded() -> None:
    body = {"ticker": "SPX", "payload": json.dumps({"timestamp": TS_S, "spot": 1.5})}
    assert parse(body)["spot"] == 1.5


def test_bytes_with_utf8_bom_are_accepted() -> None:
    assert parse_gex(b"\xef\xbb\xbf" + json.dumps(flat()).encode(), NOW_MS)["ticker"] == "SPX"


def test_unknown_fields_are_kept_in_extra() -> None:
    assert parse(flat(vendor_note="x", level=3))["extra"] == {"vendor_note": "x", "level": 3}


def test_extra_is_null_when_every_field_is_known() -> None:
    assert parse(flat())["extra"] is None


# --- content hash -----------------------------------------------------------------------------

# one changed value per content field
CHANGED_CONTENT: dict[str, Any] = {
    "spot": 6734.5,
    "zero_gamma": 6708.7,
    "sum_gex_vol": 1.0,
    "sum_gex_oi": 2.0,
    "major_pos_vol": 6736,
    "major_neg_vol": 6699,
    "major_pos_oi": 6801,
    "major_neg_oi": 6499,
    "min_dte": 3,
    "sec_min_dte": 4,
    "delta_risk_reversal": 0.2,
    "max_priors": [[6740, 170979.743]],
    "max_change": {"current": [6735, 12.5]},
    "strikes": [[6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.0]]],
}


def test_content_hash_is_32_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", parse(flat())["content_hash"])


def test_same_content_reposted_later_has_the_same_content_hash() -> None:
    first = parse_gex(json.dumps(flat()), NOW_MS)
    again = parse_gex(json.dumps(flat()), NOW_MS + 5000)
    assert first["id"] != again["id"]
    assert first["content_hash"] == again["content_hash"]


def test_same_content_in_another_shape_has_the_same_content_hash() -> None:
    body = flat(spot=None, spot_price=6734.25, strikes=[[6700.0, -25.94, -8.91, None]])
    enveloped = {"ticker": "SPX", "payload": json.dumps({**body, "ticker": None})}
    assert parse(enveloped)["content_hash"] == parse(body)["content_hash"]


def test_extra_fields_do_not_change_the_content_hash() -> None:
    assert parse(flat(vendor_note="x"))["content_hash"] == parse(flat())["content_hash"]


@pytest.mark.parametrize("name", CONTENT_FIELDS)
def test_changing_any_content_field_changes_the_content_hash(name: str) -> None:
    changed = parse(flat(**{name: CHANGED_CONTENT[name]}))
    assert changed["content_hash"] != parse(flat())["content_hash"]


# --- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected_ms"),
    [
        (TS_S, TS_MS),
        (TS_S + 0.25, TS_MS + 250),
        (TS_MS, TS_MS),
        (TS_MS + 0.4, TS_MS),
        (str(TS_S), TS_MS),
        ("2025-11-14T14:30:00Z", TS_MS),
        ("2025-11-14T14:30:00.123Z", TS_MS + 123),
        ("2025-11-14T09:30:00-05:00", TS_MS),
        ("2025-11-14T15:30:00+01:00", TS_MS),
    ],
)
def test_timestamp_forms_become_epoch_ms_utc(timestamp: Any, expected_ms: int) -> None:
    assert parse(flat(timestamp=timestamp))["timestamp"] == expected_ms


def test_offsets_on_both_sides_of_a_dst_change_map_to_utc() -> None:
    summer = parse(flat(timestamp="2025-07-14T09:30:00-04:00"))["timestamp"]
    winter = parse(flat(timestamp="2025-11-14T09:30:00-05:00"))["timestamp"]
    assert datetime.fromtimestamp(summer / 1000, UTC).hour == 13
    assert datetime.fromtimestamp(winter / 1000, UTC).hour == 14


def test_missing_timestamp_falls_back_to_envelope_received_at() -> None:
    body = {"ticker": "SPX", "received_at": "2025-11-14T14:30:00Z", "payload": {"spot": 1.0}}
    assert parse(body)["timestamp"] == TS_MS


def test_missing_timestamp_falls_back_to_arrival_time() -> None:
    assert parse(flat(timestamp=None))["timestamp"] == NOW_MS


@pytest.mark.parametrize("timestamp", [TS_MS * 1000, TS_MS * 10**6 + 999_999, str(TS_MS * 1000)])
def test_microseconds_and_nanoseconds_are_truncated_to_the_millisecond(timestamp: Any) -> None:
    assert parse(flat(timestamp=timestamp))["timestamp"] == TS_MS


@pytest.mark.parametrize(
    "timestamp",
    [
        1_763_130,  # seconds of 1970
        946_684_799_999,  # just before 2000 in ms
        NOW_MS + 86_400_001,  # more than one day ahead
        TS_MS * 10**8,  # beyond nanoseconds
        "2025-11-14T14:30:00",  # naive ISO time: ambiguous
        "yesterday",
        "",
        True,
        [TS_S],
    ],
)
def test_unusable_timestamp_is_refused_naming_timestamp(timestamp: Any) -> None:
    assert refusal(flat(timestamp=timestamp)).field == "timestamp"


def test_unusable_envelope_payload_timestamp_names_payload_timestamp() -> None:
    error = refusal({"ticker": "SPX", "payload": {"timestamp": "soon"}})
    assert error.field == "payload.timestamp"


# --- aliases ----------------------------------------------------------------------------------


def test_spot_price_alias_fills_spot() -> None:
    assert parse(flat(spot=None, spot_price=6734.5))["spot"] == 6734.5


def test_non_zero_alias_is_preferred_over_a_zero_canonical_value() -> None:
    assert parse(flat(sum_gex_vol=0, net_gex_vol=-5.5))["sum_gex_vol"] == -5.5


def test_non_zero_later_alias_is_preferred_over_zero_earlier_aliases() -> None:
    record = parse(flat(sum_gex_vol=None, net_gex_vol=0.0, net_gex=42.0))
    assert record["sum_gex_vol"] == 42.0


def test_canonical_value_wins_when_both_are_non_zero() -> None:
    assert parse(flat(sum_gex_oi=7.0, net_gex_oi=9.0))["sum_gex_oi"] == 7.0


def test_all_zero_aliases_give_zero() -> None:
    assert parse(flat(sum_gex_vol=0, net_gex=0))["sum_gex_vol"] == 0.0


def test_absent_numbers_are_null() -> None:
    record = parse({"ticker": "SPX", "timestamp": TS_S, "zero_gamma": 6708.6})
    assert record["spot"] is None and record["min_dte"] is None and record["strikes"] == []


def test_invalid_alias_is_refused_even_when_another_alias_is_valid() -> None:
    assert refusal(flat(net_gex="lots")).field == "net_gex"


# --- numbers ----------------------------------------------------------------------------------


def test_numeric_strings_are_accepted_as_numbers() -> None:
    record = parse(flat(spot="6734.25", min_dte="2", strikes=[["6700", "1e2"]]))
    assert (record["spot"], record["min_dte"]) == (6734.25, 2)
    assert record["strikes"] == [[6700.0, 100.0, None, None]]


@pytest.mark.parametrize("value", ["abc", "NaN", "inf", "", True, [1.0], {"v": 1}])
def test_non_numeric_value_is_refused_naming_the_field(value: Any) -> None:
    assert refusal(flat(zero_gamma=value)).field == "zero_gamma"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_number_is_refused_naming_its_path(literal: str) -> None:
    body = json.dumps(flat(spot=0)).replace('"spot": 0', f'"spot": {literal}')
    assert refusal(body).field == "spot"


def test_non_finite_number_inside_a_strike_names_the_strike_path() -> None:
    body = json.dumps(flat(strikes=[[1, 2], [3, 0]])).replace("[3, 0]", "[3, NaN]")
    assert refusal(body).field == "strikes[1][1]"


def test_non_finite_number_in_an_envelope_names_the_payload_path() -> None:
    body = '{"ticker": "SPX", "payload": {"timestamp": 1763130600, "spot": 1e999}}'
    assert refusal(body).field == "payload.spot"


def test_non_finite_number_in_an_unknown_field_is_refused() -> None:
    body = json.dumps(flat(vendor={"x": [0]})).replace('{"x": [0]}', '{"x": [Infinity]}')
    assert refusal(body).field == "vendor.x[0]"


@pytest.mark.parametrize(("value", "expected"), [(1.0, 1), ("3", 3)])
def test_integral_dte_values_become_ints(value: Any, expected: int) -> None:
    assert parse(flat(min_dte=value))["min_dte"] == expected


@pytest.mark.parametrize("value", [0.5, "1.5", False])
def test_non_integral_dte_is_refused(value: Any) -> None:
    assert refusal(flat(sec_min_dte=value)).field == "sec_min_dte"


# --- strike rows ------------------------------------------------------------------------------


def test_strike_rows_of_two_three_and_four_elements_become_four_element_rows() -> None:
    rows = [[25187.21, 10.07], [25192.21, 1.5, -2.5], [25197.21, 3.0, 4.0, [1, 2, 3, 4, 5]]]
    assert parse(flat(ticker="NQ_NDX", strikes=rows))["strikes"] == [
        [25187.21, 10.07, None, None],
        [25192.21, 1.5, -2.5, None],
        [25197.21, 3.0, 4.0, [1.0, 2.0, 3.0, 4.0, 5.0]],
    ]


def test_duplicate_strikes_are_kept_in_arrival_order() -> None:
    rows = [[6700, 1.0], [6700, 2.0]]
    assert parse(flat(strikes=rows))["strikes"] == [
        [6700.0, 1.0, None, None],
        [6700.0, 2.0, None, None],
    ]


def test_null_gamma_oi_and_priors_stay_null() -> None:
    assert parse(flat(strikes=[[6700, 1.0, None, None]]))["strikes"] == [[6700.0, 1.0, None, None]]


def test_empty_priors_become_null() -> None:
    assert parse(flat(strikes=[[6700, 1.0, 2.0, []]]))["strikes"] == [[6700.0, 1.0, 2.0, None]]


def test_dict_rows_with_gamma_now_and_vanna_are_normalised() -> None:
    rows = [{"strike": 6700, "gamma_now": 1.5, "vanna": -2.0, "history": [1, 2, 3, 4, 5]}]
    assert parse(flat(strikes=rows))["strikes"] == [[6700.0, 1.5, -2.0, [1.0, 2.0, 3.0, 4.0, 5.0]]]


def test_dict_rows_with_gamma_and_oi_gamma_are_normalised() -> None:
    rows = [{"strike": "6705", "gamma": 0.5, "oi_gamma": 7}]
    assert parse(flat(strikes=rows))["strikes"] == [[6705.0, 0.5, 7.0, None]]


def test_missing_or_null_strikes_give_an_empty_list() -> None:
    assert parse(flat(strikes=None))["strikes"] == []


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([[1, 2], [3]], "strikes[1]"),
        ([[1, 2], [3, 4, 5, None, 6]], "strikes[1]"),
        ([[1, 2], "6700,1"], "strikes[1]"),
        ([[1, 2], [3, 4], [5, 6], [7, "x"]], "strikes[3][1]"),
        ([["6700x", 1]], "strikes[0][0]"),
        ([[1, 2, True]], "strikes[0][2]"),
        ([[1, 2, 3, [1, 2, 3]]], "strikes[0][3]"),
        ([[1, 2, 3, [1, 2, 3, 4, "x"]]], "strikes[0][3][4]"),
        ([[1, 2, 3, {"p1": 1}]], "strikes[0][3]"),
        ([{"strike": 1, "gamma_now": "x"}], "strikes[0].gamma_now"),
        ([{"strike": 1}], "strikes[0].gamma_now"),
        ([{"gamma": 1}], "strikes[0].strike"),
    ],
)
def test_bad_strike_row_is_refused_naming_its_path(rows: Any, field: str) -> None:
    assert refusal(flat(strikes=rows)).field == field


def test_strikes_that_are_not_an_array_are_refused() -> None:
    assert refusal(flat(strikes={"6700": 1})).field == "strikes"


def test_bad_strike_in_an_envelope_names_the_payload_path() -> None:
    body = {"ticker": "SPX", "payload": {"timestamp": TS_S, "strikes": [[1, None]]}}
    assert refusal(body).field == "payload.strikes[0][1]"


# --- max_priors / max_change ------------------------------------------------------------------


@pytest.mark.parametrize("value", [[], None])
def test_empty_or_null_max_priors_are_null(value: Any) -> None:
    body = flat()
    body["max_priors"] = value
    assert parse(body)["max_priors"] is None


def test_bad_max_priors_pair_is_refused_naming_it() -> None:
    assert refusal(flat(max_priors=[[1, 2], [3]])).field == "max_priors[1]"


def test_max_change_object_is_normalised() -> None:
    change = {"current": [6735, "12.5"], "five": [6740, -3], "thirty": None}
    assert parse(flat(max_change=change))["max_change"] == {
        "current": [6735.0, 12.5],
        "five": [6740.0, -3.0],
        "thirty": None,
    }


def test_bad_max_change_window_is_refused_naming_it() -> None:
    assert refusal(flat(max_change={"one": [1, "x"]})).field == "max_change.one[1]"


# --- ticker / endpoint / kind / body ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"timestamp": TS_S},
        {"ticker": "", "timestamp": TS_S},
        {"ticker": "   ", "timestamp": TS_S},
        {"ticker": "BRK.B", "timestamp": TS_S},
        {"ticker": "A" * 17, "timestamp": TS_S},
        {"ticker": 500, "timestamp": TS_S},
        {"ticker": None, "payload": {"timestamp": TS_S}},
    ],
)
def test_missing_or_invalid_ticker_is_refused_naming_ticker(body: dict[str, Any]) -> None:
    assert refusal(body).field == "ticker"


def test_unknown_endpoint_is_refused_naming_endpoint() -> None:
    assert refusal(flat(endpoint="gex_two")).field == "endpoint"


def test_unknown_kind_is_refused_naming_kind() -> None:
    assert refusal({"ticker": "SPX", "kind": "levels", "payload": {}}).field == "kind"


@pytest.mark.parametrize("payload", [[1, 2], 5, "not json", "[1, 2]"])
def test_payload_that_is_not_an_object_is_refused_naming_payload(payload: Any) -> None:
    error = refusal({"ticker": "SPX", "payload": payload})
    assert (error.status, error.field) == (422, "payload")


@pytest.mark.parametrize("body", ["{bad json", b'{"ticker": "\xff"}', "", "{'ticker': 'SPX'}"])
def test_invalid_json_is_a_400_on_body(body: str | bytes) -> None:
    with pytest.raises(InvalidJson) as info:
        parse_gex(body, NOW_MS)
    assert (info.value.status, info.value.field) == (400, "body")


@pytest.mark.parametrize("body", ["[1, 2]", "42", "null", '"not json inside"', '"[1]"'])
def test_json_that_is_not_an_object_is_a_422_on_body(body: str) -> None:
    error = refusal(body)
    assert (error.status, error.field) == (422, "body")


def test_integer_beyond_float_range_is_refused_naming_its_path() -> None:
    body = json.dumps(flat(spot=0)).replace('"spot": 0', '"spot": 1' + "0" * 400)
    assert refusal(body).field == "spot"


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_unknown_field_nested_too_deep_is_refused_naming_it() -> None:
    assert refusal(flat(vendor=nested(65))).field == "vendor"


def test_unknown_field_nested_within_the_limit_is_kept() -> None:
    assert parse(flat(vendor=nested(64)))["extra"] == {"vendor": nested(64)}


@pytest.mark.parametrize("ticker", ["\u00df", "\ufb00", "\u0131", "\u017fpx", "SPX\u00a0"])
def test_non_ascii_ticker_that_upper_cases_to_ascii_is_refused(ticker: str) -> None:
    assert refusal(flat(ticker=ticker)).field == "ticker"


@pytest.mark.parametrize("value", ["\u0661\u0662", "\uff16\uff17", "6734.25\u00a0", "\u20036734"])
def test_numeric_string_with_non_ascii_digits_or_spaces_is_refused(value: str) -> None:
    assert refusal(flat(spot=value)).field == "spot"


def test_integer_string_with_non_ascii_digits_is_refused() -> None:
    assert refusal(flat(min_dte="\u0662")).field == "min_dte"


def test_timestamp_in_non_ascii_digits_is_refused() -> None:
    arabic = "".join(chr(0x0660 + int(digit)) for digit in str(TS_S))
    assert refusal(flat(timestamp=arabic)).field == "timestamp"


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 1e300, "9" * 30, "1" * 5000])
def test_dte_beyond_the_32_bit_integer_range_is_refused_naming_it(value: Any) -> None:
    assert refusal(flat(min_dte=value)).field == "min_dte"


def test_dte_at_the_32_bit_integer_limits_is_kept() -> None:
    record = parse(flat(min_dte=2**31 - 1, sec_min_dte=str(-(2**31))))
    assert (record["min_dte"], record["sec_min_dte"]) == (2**31 - 1, -(2**31))


def test_integer_literal_longer_than_python_converts_is_refused_naming_its_path() -> None:
    body = json.dumps(flat(spot=0)).replace('"spot": 0', '"spot": -1' + "0" * 5000)
    error = refusal(body)
    assert (error.status, error.field) == (422, "spot")


def test_json_nested_deeper_than_the_decoder_allows_is_a_422_on_body() -> None:
    body = json.dumps(flat(vendor=0)).replace('"vendor": 0', '"vendor": ' + "[" * 5000 + "]" * 5000)
    error = refusal(body)
    assert (error.status, error.field) == (422, "body")
