"""One time conversion: the ingest API's parser and the loader's SQL agree on every value.

A value is first decoded from JSON text by orjson, as the ingest API decodes bodies (integers beyond
64 bits become floats); the loader then reads it the way it reads staged records: orjson's JSON,
typed to VARCHAR by `json_transform`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.timestamps import MIN_MS, epoch_ms_sql, to_epoch_ms

NOW_MS = 1_796_635_466_597  # 2026-12-07T09:24:26.597Z
_VALUE = """json_transform(j::JSON, '{"v": "VARCHAR"}').v"""
_SQL = (
    f"SELECT {epoch_ms_sql(_VALUE, '$now')} FROM unnest($docs) WITH ORDINALITY t(j, i) ORDER BY i"
)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        yield con


def _python(value: Any) -> int | None:
    try:
        return to_epoch_ms(value, "t", NOW_MS)
    except PayloadError:
        return None


def _sql_all(con: duckdb.DuckDBPyConnection, values: list[Any]) -> list[int | None]:
    documents = [orjson.dumps({"v": value}).decode() for value in values]
    return [ms for (ms,) in con.execute(_SQL, {"docs": documents, "now": NOW_MS}).fetchall()]


def _sql(con: duckdb.DuckDBPyConnection, value: Any) -> int | None:
    return _sql_all(con, [value])[0]


_digits = st.text("0123456789", min_size=1, max_size=22)
_space = st.sampled_from(["", " ", "\t", "\n", " \v", "\u00a0"])
numeric_text = st.builds(
    lambda s1, sign, whole, frac, exp, s2: f"{s1}{sign}{whole}{frac}{exp}{s2}",
    _space,
    st.sampled_from(["", "+", "-"]),
    _digits,
    st.one_of(st.just(""), st.just("."), _digits.map(lambda d: "." + d)),
    st.one_of(st.just(""), st.integers(-25, 25).map(lambda e: f"e{e}")),
    _space,
)
realistic_numbers = st.one_of(
    st.integers(1_600_000_000, 1_800_000_000),
    st.integers(1_600_000_000_000, 1_800_000_000_000),
    st.integers(1_600_000_000_000_000, 1_800_000_000_000_000),
    st.integers(1_600_000_000_000_000_000, 1_800_000_000_000_000_000),
    st.floats(1.6e9, 1.8e9),
    st.floats(1.6e12, 1.8e12),
    st.floats(1.6e15, 1.8e15),
    st.sampled_from([10**11, 10**14, 10**17, 10**20, 10**11 - 1, 10**14 - 1, 10**17 - 1]),
)


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


iso_text = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, zone, pad, dash, colon: (
        f"{pad}{y:04d}{dash}{mo}{dash}{d}{sep}{h}{colon}{mi}"
        f"{colon + s if s else ''}{frac if s else ''}{zone}{pad}"
    ),
    st.integers(1995, 2030),
    _two(0, 13),
    _two(0, 32),
    st.sampled_from(["T", "t", " ", "_", ""]),
    _two(0, 25),
    _two(0, 61),
    st.one_of(st.just(""), _two(0, 61)),
    st.one_of(
        st.just(""),
        st.builds(
            lambda mark, digits: mark + digits,
            st.sampled_from([".", ","]),
            st.text("0123456789", min_size=1, max_size=12),
        ),
    ),
    st.one_of(
        st.sampled_from(["Z", "z", "", "UTC", "+00:00"]),
        st.builds(
            lambda sign, hh, sep, mm: f"{sign}{hh}{sep}{mm}",
            st.sampled_from(["+", "-"]),
            _two(0, 25),
            st.sampled_from([":", ""]),
            st.one_of(st.just(""), _two(0, 61)),
        ),
    ),
    st.sampled_from(["", " "]),
    st.sampled_from(["-", ""]),
    st.sampled_from([":", ""]),
)
json_values = st.one_of(
    realistic_numbers,
    numeric_text,
    iso_text,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from([True, False, None, [], {}, [1_763_132_531], {"t": 1}]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, min_size=1, max_size=40))
@example(
    [
        "2026-12-07T09:24:26.597812Z",  # the microsecond time: 597 in both, not 598
        "2026-12-07T09:24:26.5978129Z",
        1_796_635_466.5979,
        "1796635466597812345",
        "0.0000000000000000005e30",
        10**20,
    ]
)
def test_parser_and_loader_sql_agree(con: duckdb.DuckDBPyConnection, values: list[Any]) -> None:
    decoded = [orjson.loads(json.dumps(value)) for value in values]
    assert _sql_all(con, decoded) == [_python(value) for value in decoded]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-07T09:24:26.597812Z", 1_796_635_466_597),
        ("2026-12-07T09:24:26.597812345Z", 1_796_635_466_597),
        ("2026-12-07T04:24:26.5979-05:00", 1_796_635_466_597),
        ("2026-12-07 14:54:26.5+0530", 1_796_635_466_500),
        (1_796_635_466, 1_796_635_466_000),
        (1_796_635_466.5979, 1_796_635_466_597),
        ("1796635466.5979", 1_796_635_466_597),
        (1_796_635_466_597, 1_796_635_466_597),
        (1_796_635_466_597.9, 1_796_635_466_597),
        (1_796_635_466_597_812, 1_796_635_466_597),
        ("1796635466597812345", 1_796_635_466_597),
        (" 1.7966354665979e9 ", 1_796_635_466_597),
        ("20261207T092426,5979Z", 1_796_635_466_597),
    ],
)
def test_every_form_truncates_to_the_millisecond(
    con: duckdb.DuckDBPyConnection, value: Any, expected: int
) -> None:
    assert (_python(value), _sql(con, value)) == (expected, expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-12-07T09:24:26", "must end with Z or a UTC offset"),
        ("2026-02-30T09:24:26Z", "not a valid calendar date"),
        ("2026-12-07T24:00:00Z", "out of range"),
        (1e20, "too large"),
        (MIN_MS - 1, "before 2000-01-01"),
        (NOW_MS + 86_400_001, "more than one day in the future"),
        ("tomorrow", "nor an ISO-8601 time"),
        (True, "got boolean"),
    ],
)
def test_refusals_say_why(con: duckdb.DuckDBPyConnection, value: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        to_epoch_ms(value, "t", NOW_MS)
    assert _sql(con, value) is None
