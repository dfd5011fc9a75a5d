"""Numbers from JSON values: finite floats or ints, numeric strings accepted, booleans refused.

Numeric strings use ASCII digits and spaces only (`float` would also take "\u0661" or NBSP).
"""

from __future__ import annotations

import re
from typing import Any

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.jsonbody import NON_FINITE_MESSAGE, json_type

NUMERIC_TEXT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)
_INTEGER = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_MAX_INT_TEXT = 64


def to_float(value: Any, field: str) -> float:
    """`value` as a finite float: JSON numbers or numeric strings (`"6734.25"`); not booleans."""
    kind = type(value)
    if kind is float:
        if value - value == 0.0:
            return value
        raise PayloadError(field, NON_FINITE_MESSAGE)
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            raise PayloadError(field, NON_FINITE_MESSAGE) from None
    if kind is str and NUMERIC_TEXT.fullmatch(value):
        result = float(value)
        if result - result == 0.0:
            return result
        raise PayloadError(field, NON_FINITE_MESSAGE)
    raise PayloadError(field, f"must be a number, got {_describe(value)}")


def to_int(value: Any, field: str) -> int:
    """`value` as a 32-bit int (the INTEGER columns it lands in): JSON integers, integral floats
    (`1.0`) or integer strings; not booleans. Values out of range are refused, not clipped.
    """
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float and value - value == 0.0 and value.is_integer():
        number = int(value)
    elif kind is str and _INTEGER.fullmatch(value):
        # int() refuses texts beyond 4300 digits with a ValueError: far out of range anyway
        number = int(value) if len(value) <= _MAX_INT_TEXT else INT_MAX + 1
    else:
        raise PayloadError(field, f"must be an integer, got {_describe(value)}")
    if not INT_MIN <= number <= INT_MAX:
        raise PayloadError(field, f"must be an integer between {INT_MIN} and {INT_MAX}")
    return number


def optional_float(value: Any, field: str) -> float | None:
    """`to_float`, with JSON null meaning absent."""
    return None if value is None else to_float(value, field)


def optional_int(value: Any, field: str) -> int | None:
    """`to_int`, with JSON null meaning absent."""
    return None if value is None else to_int(value, field)


def _describe(value: Any) -> str:
    if type(value) is str:
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    return json_type(value)
