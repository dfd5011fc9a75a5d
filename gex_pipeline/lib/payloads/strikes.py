"""Strike rows and (strike, value) pairs of a GEX snapshot, normalised.

A strike row becomes `[strike, gamma_vol, gamma_oi | None, priors (5 floats) | None]` from
`[strike, gamma_vol]`, `[strike, gamma_vol, gamma_oi]`, `[strike, gamma_vol, gamma_oi, priors]`
or a legacy dict `{"strike", "gamma_now"|"gamma", "vanna"|"oi_gamma", "history"}`. What a dict
row holds beyond that (other keys, the alias not used, a `history` that is not 5 numbers) is
returned as leftovers for the record's `extra`, never dropped.
This is the hot path of `/gex`: finite floats are checked inline, other values go through
`to_float`, and field names are only built when a row is refused.
"""

from __future__ import annotations

from typing import Any

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.jsonbody import json_type
from gex_pipeline.lib.payloads.numbers import to_float

PRIORS_LEN = 5


def normalise_strikes(
    rows: Any,
    field: str,
    max_rows: int | None = None,
    leftovers: list[list[Any]] | None = None,
) -> list[list[Any]]:
    """Normalised strike rows (arrival order, duplicates kept); `[]` for null or missing.

    More than `max_rows` rows are refused before any is read. `[index, {key: value}]` of what dict
    rows hold beyond the normalised fields is appended to `leftovers` (when given).
    """
    if rows is None:
        return []
    if type(rows) is not list:
        raise PayloadError(field, f"must be an array of strike rows, got {json_type(rows)}")
    if max_rows is not None and len(rows) > max_rows:
        raise PayloadError(field, f"has {len(rows)} rows, more than {max_rows} (the cap)")
    out: list[list[Any]] = []
    append = out.append
    try:
        for row in rows:
            if type(row) is list:
                size = len(row)
                if size == 4:
                    strike, gamma, oi, priors = row
                elif size == 3:
                    strike, gamma, oi = row
                    priors = None
                elif size == 2:
                    strike, gamma = row
                    oi = priors = None
                else:
                    raise PayloadError("", f"must have 2 to 4 elements, got {size}")
                oi_at, priors_at = "[2]", "[3]"
                if type(strike) is not float or strike - strike:
                    # ints from `load_json` are within float range (integral strikes are common)
                    strike = float(strike) if type(strike) is int else to_float(strike, "[0]")
                if type(gamma) is not float or gamma - gamma:
                    gamma = to_float(gamma, "[1]")
            elif type(row) is dict:
                strike = to_float(row.get("strike"), ".strike")
                gamma, gamma_at = _first_present(row, "gamma_now", "gamma")
                gamma = to_float(gamma, gamma_at)
                oi, oi_at = _first_present(row, "vanna", "oi_gamma")
                priors, priors_at = row.get("history"), ".history"
                used = {"strike", gamma_at[1:], oi_at[1:], "history"}
                if priors is not None:
                    try:
                        priors = _priors(priors, priors_at)
                    except PayloadError:
                        priors = None  # not 5 numbers: kept as sent in the leftovers
                        used.discard("history")
                rest = {k: v for k, v in row.items() if k not in used}
                if rest and leftovers is not None:
                    leftovers.append([len(out), rest])
            else:
                raise PayloadError("", f"must be an array or an object, got {json_type(row)}")
            if oi is not None and (type(oi) is not float or oi - oi):
                oi = to_float(oi, oi_at)
            if priors is not None:
                if type(priors) is list and len(priors) == PRIORS_LEN:
                    p1, p5, p10, p15, p30 = priors
                    if not (
                        type(p1) is float
                        and type(p5) is float
                        and type(p10) is float
                        and type(p15) is float
                        and type(p30) is float
                    ) or (p1 - p1 + p5 - p5 + p10 - p10 + p15 - p15 + p30 - p30):
                        priors = _priors(priors, priors_at)
                else:
                    priors = _priors(priors, priors_at)
            append([strike, gamma, oi, priors])
    except PayloadError as exc:
        # rows are appended in order: the refused row's index is the number of rows done
        raise PayloadError(f"{field}[{len(out)}]{exc.field}", exc.message) from None
    return out


def normalise_pairs(pairs: Any, field: str) -> list[list[float | None]] | None:
    """`[[strike, value], ...]` as floats; None for null or `[]`.

    Older clients sent bare strikes (`[6740, 6735]`): each becomes `[strike, null]`.
    """
    if pairs is None:
        return None
    if type(pairs) is not list:
        raise PayloadError(
            field, f"must be an array of [strike, value] pairs, got {json_type(pairs)}"
        )
    out: list[list[float | None]] = []
    try:
        for pair in pairs:
            if type(pair) is list:
                out.append(_pair(pair, ""))
            else:
                out.append([to_float(pair, ""), None])
    except PayloadError as exc:  # the path is built only for the refused pair
        raise PayloadError(f"{field}[{len(out)}]{exc.field}", exc.message) from None
    return out or None


def normalise_max_change(value: Any, field: str) -> dict[str, list[float] | float | None] | None:
    """`{window: [strike, delta] | number | null}` with floats; None for null or `{}`.

    A plain number per window is the older clients' shape (`{"1h": 0.05}`, the predecessor's
    `Dict[str, float]`): kept as that number.
    """
    if value is None:
        return None
    if type(value) is not dict:
        raise PayloadError(
            field, f"must be an object of [strike, delta] pairs or numbers, got {json_type(value)}"
        )
    return {
        str(window): _change(change, f"{field}.{window}") for window, change in value.items()
    } or None


def _change(change: Any, field: str) -> list[float] | float | None:
    if change is None:
        return None
    if type(change) is list:
        return _pair(change, field)
    try:
        return to_float(change, field)
    except PayloadError:
        raise PayloadError(field, "must be a [strike, delta] pair or a number") from None


def _pair(pair: Any, field: str) -> list[float]:
    if type(pair) is not list or len(pair) != 2:
        raise PayloadError(field, "must be a [strike, value] pair")
    return [to_float(pair[0], f"{field}[0]"), to_float(pair[1], f"{field}[1]")]


def _priors(priors: Any, field: str) -> list[float] | None:
    if type(priors) is not list:
        raise PayloadError(
            field, f"must be an array of {PRIORS_LEN} numbers, got {json_type(priors)}"
        )
    if not priors:
        return None
    if len(priors) != PRIORS_LEN:
        raise PayloadError(field, f"must have {PRIORS_LEN} numbers, got {len(priors)}")
    return [
        v if type(v) is float and not v - v else to_float(v, f"{field}[{i}]")
        for i, v in enumerate(priors)
    ]


def _first_present(row: dict[str, Any], *keys: str) -> tuple[Any, str]:
    """The first non-null value among `keys` of a dict row, with its field suffix."""
    for key in keys:
        value = row.get(key)
        if value is not None:
            return value, f".{key}"
    return None, f".{keys[0]}"
