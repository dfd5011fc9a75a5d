"""Epoch milliseconds UTC from JSON time values: one definition, in Python and in DuckDB SQL.

The ingest API converts `/gex` timestamps with `to_epoch_ms`; the live loader converts the times
inside `/uw` messages with `epoch_ms_sql`. Both follow these rules (a property test feeds them the
same generated values):

- A number, or a string holding one (`NUMBER_PATTERN`: ASCII digits, optional sign, fraction and
  exponent, surrounding ASCII whitespace), is an epoch time whose unit is told by its magnitude:
  below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, below 1e20 nanoseconds;
  1e20 and beyond is refused. Its decimal value (rounded half away from zero at the 18th decimal,
  as DuckDB's DECIMAL(38,18) does) is converted and truncated (floored) to the millisecond.
- A string matching `ISO_PATTERN`: `YYYY-MM-DD`, `T` (or a space), `HH:MM[:SS[.fraction]]` (or
  the basic forms `YYYYMMDD`, `HHMM[SS]`; `,` for `.`) and `Z` or an offset `+HH`, `+HHMM`,
  `+HH:MM`. Digits of the fraction beyond milliseconds are truncated. Without `Z` or an offset it
  is refused: a naive time is ambiguous.
- A result before 2000-01-01 or more than one day after `now` is refused.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from typing import Any

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.jsonbody import NON_FINITE_MESSAGE, json_type

MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_AHEAD_MS = 86_400_000
# Upper bounds (exclusive) of seconds, milliseconds, microseconds and nanoseconds, with the
# factor (numerator, denominator) that turns each into milliseconds.
UNITS: tuple[tuple[int, int, int], ...] = (
    (10**11, 1000, 1),
    (10**14, 1, 1),
    (10**17, 1, 1000),
    (10**20, 1, 1_000_000),
)
DECIMAL_PLACES = 18

_WHITESPACE = "\t\n\r\f\v"  # besides the space
_SPACE = r"[ \t\n\r\f\v]*"
NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DATE_TIME = (
    r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})[Tt ]([0-9]{2}):?([0-9]{2})"
    r"(?::?([0-9]{2})(?:[.,]([0-9]+))?)?"
)
ISO_PATTERN = _DATE_TIME + r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)"
# The usual form of ISO_PATTERN (with its ranges), cut by position in SQL.
_USUAL_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
ISO_PARTS = ("year", "month", "day", "hour", "minute", "second", "fraction", "sign", "oh", "om")

_NUMBER = re.compile(_SPACE + NUMBER_PATTERN + _SPACE)
_ISO = re.compile(_SPACE + ISO_PATTERN + _SPACE)
_NAIVE = re.compile(_SPACE + _DATE_TIME + _SPACE)
_QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def to_epoch_ms(value: Any, field: str, now_ms: int) -> int:
    """Epoch milliseconds UTC of `value` by the module's rules, or a `PayloadError` on `field`."""
    kind = type(value)
    if kind is str and not _NUMBER.fullmatch(value):
        ms = _iso_to_ms(value, field)
    elif kind is int:
        ms = _integer_to_ms(value, field)
    elif kind is float or kind is str:
        if kind is float and value - value != 0.0:
            raise PayloadError(field, NON_FINITE_MESSAGE)
        ms = _decimal_to_ms(Decimal(repr(value) if kind is float else value.strip()), field)
    else:
        raise PayloadError(field, f"must be epoch seconds/milliseconds or an ISO-8601 time, got "
                           f"{json_type(value)}")  # fmt: skip
    if ms < MIN_MS:
        raise PayloadError(field, "is before 2000-01-01 (seconds read as milliseconds?)")
    if ms > now_ms + MAX_AHEAD_MS:
        raise PayloadError(field, "is more than one day in the future")
    return ms


def _too_large(field: str) -> PayloadError:
    return PayloadError(field, "is too large for epoch seconds, ms, µs or ns")


def _integer_to_ms(number: int, field: str) -> int:
    for bound, times, per in UNITS:
        if abs(number) < bound:
            return number * times // per
    raise _too_large(field)


def _decimal_to_ms(number: Decimal, field: str) -> int:
    if abs(number) >= UNITS[-1][0]:
        raise _too_large(field)
    number = number.quantize(_QUANTUM, context=_CONTEXT)
    for bound, times, per in UNITS:
        if abs(number) < bound:
            floored = (number * times).to_integral_value(rounding=ROUND_FLOOR, context=_CONTEXT)
            return int(floored) // per
    raise _too_large(field)


def _iso_to_ms(text: str, field: str) -> int:
    match = _ISO.fullmatch(text)
    if match is None:
        if _NAIVE.fullmatch(text):
            raise PayloadError(field, "ISO-8601 time must end with Z or a UTC offset")
        raise PayloadError(field, "is not epoch seconds/milliseconds nor an ISO-8601 time")
    year, month, day, hour, minute, second, fraction, sign, oh, om = match.groups()
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise PayloadError(field, "is not a valid calendar date") from None
    hour, minute, second = int(hour), int(minute), int(second or 0)
    offset_minutes = int(oh or 0) * 60 + int(om or 0)
    if hour > 23 or minute > 59 or second > 59 or int(oh or 0) > 23 or int(om or 0) > 59:
        raise PayloadError(field, "has an hour, minute, second or offset out of range")
    ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    ms += int((fraction or "")[:3].ljust(3, "0"))
    return ms + (offset_minutes if sign == "-" else -offset_minutes) * 60_000


def epoch_ms_sql(value: str, now_ms: str) -> str:
    """DuckDB expression: epoch ms UTC (BIGINT) of the text expression `value` by the module's
    rules, NULL when they refuse it; `now_ms` is an SQL expression of the reference time.

    Tiered for speed (regexp_matches is a fast scan, capture groups are slow, and DuckDB does not
    share repeated subexpressions inside CASE): the usual ISO form (`_USUAL_ISO`, what the vendors
    send) is cut by position, numbers are cast, only other ISO forms go through the captures.
    Values computed once are bound to lambda parameters (`n`, `x`, `ms`).
    """
    ms = (
        f"CASE WHEN {value} IS NULL THEN NULL"
        f" WHEN regexp_matches({value}, '^{_USUAL_ISO}$') THEN {_usual_iso_ms(value)}"
        f" WHEN regexp_matches({value}, '^{_SPACE}{NUMBER_PATTERN}{_SPACE}$')"
        f" THEN {_number_ms(value)} ELSE {_iso_ms(value)} END"
    )
    checked = f"CASE WHEN ms >= {MIN_MS} AND ms <= ({now_ms}) + {MAX_AHEAD_MS} THEN CAST(ms AS BIGINT) END"
    return f"list_transform([{ms}], lambda ms: {checked})[1]"


def _usual_iso_ms(value: str) -> str:
    """`YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|+HH:MM)`, ranges checked by `_USUAL_ISO`."""
    zone = f"(CASE WHEN right({value}, 1) IN ('Z', 'z') THEN 1 ELSE 6 END)"
    offset_minutes = f"(CAST({value}[-5:-4] AS INTEGER) * 60 + CAST({value}[-2:-1] AS INTEGER))"
    return (
        f"epoch_ms(TRY_CAST({value}[1:19] AS TIMESTAMP))"
        f" + coalesce(TRY_CAST(rpad(left({value}[21:length({value}) - {zone}], 3), 3, '0')"
        f" AS INTEGER), 0)"
        f" + CASE WHEN {zone} = 6 THEN (CASE {value}[-6:-6] WHEN '-' THEN 1 ELSE -1 END)"
        f" * {offset_minutes} * 60000 ELSE 0 END"
    )


def _number_ms(value: str) -> str:
    """A number in `value` (already matched by `NUMBER_PATTERN`) by magnitude, floored."""
    # DECIMAL(38,18) holds less than 1e20 (the last bound): the cast refuses the rest.
    units = " ".join(
        f"{'ELSE' if bound == UNITS[-1][0] else f'WHEN abs(n) < {bound} THEN'}"
        f" CAST(floor(n * {times}) AS HUGEINT) // {per}"
        for bound, times, per in UNITS
    )
    number = f"TRY_CAST(trim({value}, ' {_WHITESPACE}') AS DECIMAL(38,{DECIMAL_PLACES}))"
    return f"list_transform([{number}], lambda n: CASE WHEN n IS NOT NULL THEN CASE {units} END END)[1]"


def _iso_ms(value: str) -> str:
    """Any `ISO_PATTERN` form in `value`, from its captures; NULL when it is none."""
    names = f"[{', '.join(repr(name) for name in ISO_PARTS)}]"
    parts = f"regexp_extract({value}, '^{_SPACE}{ISO_PATTERN}{_SPACE}$', {names})"

    def part(name: str) -> str:
        return f"TRY_CAST(nullif(x.{name}, '') AS INTEGER)"

    day = "TRY_CAST(nullif(x.year || '-' || x.month || '-' || x.day, '--') AS DATE)"
    second, oh, om = (f"coalesce({part(name)}, 0)" for name in ("second", "oh", "om"))
    ms = (
        f"CASE WHEN {day} IS NOT NULL AND {part('hour')} <= 23 AND {part('minute')} <= 59"
        f" AND {second} <= 59 AND {oh} <= 23 AND {om} <= 59"
        f" THEN ((date_diff('day', DATE '1970-01-01', {day}) * 24 + {part('hour')}) * 60"
        f" + {part('minute')}) * 60000::BIGINT + {second} * 1000"
        f" + coalesce(TRY_CAST(rpad(left(x.fraction, 3), 3, '0') AS INTEGER), 0)"
        f" + (CASE x.sign WHEN '-' THEN 1 ELSE -1 END) * ({oh} * 60 + {om}) * 60000 END"
    )
    return f"list_transform([{parts}], lambda x: {ms})[1]"
