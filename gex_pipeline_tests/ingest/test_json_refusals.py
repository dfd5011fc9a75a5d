"""Non-finite numbers are refused with their path by the cheap path (no second decoder)."""

from __future__ import annotations

import pytest

from gex_pipeline.lib.payloads.errors import InvalidJson, PayloadError
from gex_pipeline.lib.payloads.jsonbody import find_value, load_json


def _path(body: str) -> str:
    with pytest.raises(PayloadError) as caught:
        load_json(body)
    return caught.value.field


def test_the_first_non_finite_number_in_document_order_is_named() -> None:
    body = '{"a": [1.5, -7.000000000000001e-300], "b": {"c": [2, Infinity]}, "d": NaN}'
    assert _path(body) == "b.c[1]"


def test_non_finite_words_inside_strings_are_not_taken_for_numbers() -> None:
    assert load_json('\ufeff{"note": "NaN or Infinity", "v": 1}') == {
        "note": "NaN or Infinity",
        "v": 1,
    }
    assert _path('{"note": "NaN", "v": [1, 1e999]}') == "v[1]"


def test_many_out_of_range_numbers_are_refused_without_one_pass_each() -> None:
    body = "[" + ", ".join(["1e999"] * 1000) + "]"
    with pytest.raises(PayloadError) as caught:
        load_json(body)
    assert caught.value.field == "body"


def test_invalid_json_with_a_non_finite_literal_is_still_invalid_json() -> None:
    with pytest.raises(InvalidJson):
        load_json('{"a": NaN,,}')


def test_find_value_builds_the_path_of_the_value_found_only() -> None:
    value = {"strikes": [[1.0, 2.0], [3.0, {"x": [4.0, 5.5]}]]}
    assert find_value(value, 5.5) == "strikes[1][1].x[1]"
    assert find_value(value, 9.0) is None
