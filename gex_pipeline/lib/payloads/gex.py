"""`POST /gex`: one live GEX snapshot (flat or envelope, double-encoded tolerated) -> staging record.

The record is the "gex record" of `docs/staging.md`. Rules beyond the contract:
- envelope values (`ticker`, `endpoint`, `kind`) are used first, payload values as a fallback; when
  both are given and disagree after normalisation, the snapshot is refused (it could not be filed
  under the right feed).
- aliases (`spot`/`spot_price`, `sum_gex_vol`/`net_gex_vol`/`net_gex`, `sum_gex_oi`/`net_gex_oi`):
  every alias sent is validated; the first non-zero value wins, else 0.0, else None. An alias sent
  with another non-zero value is kept in `extra` under its name.
- older clients' shapes are accepted without loss: `max_priors` as bare strikes or as a string
  holding JSON (a string that does not is kept in `extra.max_priors`), `max_change` as
  `{window: number}` (see `normalise_pairs`, `normalise_max_change`).
- the timestamp falls back to `timestamp`/`received_at` of the envelope, then to the arrival time;
  `timestamp_source` says which (`timestamp`, `received_at` or `arrival`).
- a snapshot without any market data (no spot, zero_gamma, net GEX, majors, risk reversal, strikes,
  max_priors or max_change) is refused: there would be nothing to store.
- unknown fields (payload first, then envelope) are kept in `extra`, and so is what legacy dict
  strike rows hold beyond the normalised fields (`extra.strike_row_fields`: `[[index, {...}]]`).
- `content_hash` fingerprints the content fields (`CONTENT_FIELDS`), so the loader can tell an
  identical re-post (duplicate) from a different one (conflict) without hashing in SQL.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import orjson

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.jsonbody import check_depth, json_type, load_json, load_json_object
from gex_pipeline.lib.payloads.numbers import optional_float, optional_int
from gex_pipeline.lib.payloads.strikes import (
    normalise_max_change,
    normalise_pairs,
    normalise_strikes,
)
from gex_pipeline.lib.payloads.timestamps import to_epoch_ms

ENDPOINTS: frozenset[str] = frozenset({"gex_zero", "gex_one", "gex_full"})
KINDS: frozenset[str] = frozenset({"snapshot", "majors", "maxchange"})
DEFAULT_ENDPOINT = "gex_zero"
DEFAULT_KIND = "snapshot"
# Real snapshots list about 100-300 strikes; far more is refused before any row is read.
MAX_STRIKES = 2_000
TICKER_PATTERN = re.compile(r"[A-Z0-9_]{1,16}")

# record field -> accepted names, in order of preference
_ALIASED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("spot", ("spot", "spot_price")),
    ("zero_gamma", ("zero_gamma",)),
    ("sum_gex_vol", ("sum_gex_vol", "net_gex_vol", "net_gex")),
    ("sum_gex_oi", ("sum_gex_oi", "net_gex_oi")),
    ("major_pos_vol", ("major_pos_vol",)),
    ("major_neg_vol", ("major_neg_vol",)),
    ("major_pos_oi", ("major_pos_oi",)),
    ("major_neg_oi", ("major_neg_oi",)),
)
_INTS = ("min_dte", "sec_min_dte")
# The levels of a snapshot: spot, zero gamma, the net GEX sums and the majors.
LEVEL_FIELDS: tuple[str, ...] = tuple(name for name, _ in _ALIASED)
# Every scalar figure of a record, in record order, and every name it is accepted under.
SCALAR_FIELDS: tuple[str, ...] = (*LEVEL_FIELDS, *_INTS, "delta_risk_reversal")
SCALAR_NAMES: tuple[str, ...] = (
    *(alias for _, names in _ALIASED for alias in names),
    *_INTS,
    "delta_risk_reversal",
)
# The content of a record: everything but its key (ticker, endpoint, kind, timestamp), its
# identity (id, received_at) and `extra`.
CONTENT_FIELDS: tuple[str, ...] = (*SCALAR_FIELDS, "max_priors", "max_change", "strikes")
_KNOWN: frozenset[str] = frozenset(
    set(SCALAR_NAMES)
    | {"ticker", "endpoint", "kind", "timestamp", "received_at"}
    | {"strikes", "max_priors", "max_change", "payload"}
)
_KNOWN_IN_PAYLOAD = _KNOWN - {"payload"}
# Fields of which at least one (or a strike row) must be present for a snapshot to be stored.
_MARKET_FIELDS: tuple[str, ...] = (
    *(name for name, _ in _ALIASED),
    "delta_risk_reversal",
    "max_priors",
    "max_change",
)


def parse_gex(
    body: bytes | str, received_at_ms: int, max_strikes: int = MAX_STRIKES
) -> dict[str, Any]:
    """Validate and normalise one `/gex` body into a staging "gex record".

    `received_at_ms` is the arrival time (epoch ms UTC): the record's `received_at`, the last
    timestamp fallback and the reference for "too far in the future". Raises `InvalidJson` (400)
    or `PayloadError` (422) naming the field, e.g. `ticker`, `payload.spot`, `strikes[3][1]`.
    """
    outer = load_json_object(body)
    inner_raw = outer.get("payload")
    if inner_raw is None:
        envelope: dict[str, Any] = {}
        snap, prefix = outer, ""
    else:
        if type(inner_raw) is str:
            try:
                inner_raw = load_json_object(inner_raw)
            except PayloadError as exc:
                raise PayloadError(
                    "payload", f"string does not hold an object: {exc.message}"
                ) from None
        if type(inner_raw) is not dict:
            raise PayloadError("payload", f"must be an object, got {json_type(inner_raw)}")
        envelope, snap, prefix = outer, inner_raw, "payload."

    timestamp, timestamp_source = _timestamp(envelope, snap, prefix, received_at_ms)
    record: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "received_at": received_at_ms,
        "ticker": _ticker(envelope, snap, prefix),
        "endpoint": _choice(envelope, snap, prefix, "endpoint", ENDPOINTS, DEFAULT_ENDPOINT),
        "kind": _choice(envelope, snap, prefix, "kind", KINDS, DEFAULT_KIND),
        "timestamp": timestamp,
        "timestamp_source": timestamp_source,
    }
    legacy: dict[str, Any] = {}
    for name, aliases in _ALIASED:
        record[name] = _aliased(snap, prefix, aliases, legacy)
    for name in _INTS:
        record[name] = optional_int(snap.get(name), prefix + name)
    record["delta_risk_reversal"] = optional_float(
        snap.get("delta_risk_reversal"), prefix + "delta_risk_reversal"
    )
    record["max_priors"] = normalise_pairs(
        _json_text(snap.get("max_priors"), "max_priors", legacy), prefix + "max_priors"
    )
    record["max_change"] = normalise_max_change(snap.get("max_change"), prefix + "max_change")
    leftovers: list[list[Any]] = []
    record["strikes"] = normalise_strikes(
        snap.get("strikes"), prefix + "strikes", max_strikes, leftovers
    )
    if all(record[name] is None for name in _MARKET_FIELDS) and not record["strikes"]:
        raise PayloadError(
            prefix.rstrip(".") or "body",
            "carries no market data: none of spot, zero_gamma, sum_gex_vol, sum_gex_oi, majors, "
            "delta_risk_reversal, max_priors, max_change or strikes",
        )
    record["extra"] = _extra(envelope, snap, prefix)
    if leftovers:
        legacy["strike_row_fields"] = leftovers
    if legacy:
        record["extra"] = {**(record["extra"] or {}), **legacy}
    record["content_hash"] = content_hash(record)
    return record


def content_hash(record: dict[str, Any]) -> str:
    """The first 32 hex digits of sha256 over the record's `CONTENT_FIELDS` as sorted-key JSON.

    Equal for records with equal content, whatever their key, identity or `extra`. sha256, not
    blake2b or md5: hardware-accelerated here, half their cost on a 300-strike snapshot.
    """
    content = {name: record[name] for name in CONTENT_FIELDS}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def normalise_ticker(value: Any, field: str) -> str:
    """Upper-cased ticker matching `[A-Z0-9_]{1,16}`, or a `PayloadError` on `field`.

    Only ASCII is accepted: `"ß"` or a long-s `"spx"` upper-case to ASCII (`SS`, `SPX`) but name
    no ticker.
    """
    if type(value) is not str:
        raise PayloadError(field, f"must be a string, got {json_type(value)}")
    ticker = value.strip().upper()
    if not ticker:
        raise PayloadError(field, "must not be empty")
    if not value.isascii() or not TICKER_PATTERN.fullmatch(ticker):
        raise PayloadError(field, "must be ASCII matching [A-Z0-9_]{1,16} after upper-casing")
    return ticker


def normalise_endpoint(value: Any, field: str) -> str:
    """Lower-cased endpoint, one of `ENDPOINTS`, or a `PayloadError` on `field`."""
    return _one_of(value, field, ENDPOINTS)


def _one_of(value: Any, field: str, allowed: frozenset[str]) -> str:
    if type(value) is not str:
        raise PayloadError(field, f"must be a string, got {json_type(value)}")
    text = value.strip().lower()
    if text not in allowed:
        raise PayloadError(field, f"must be one of {', '.join(sorted(allowed))}")
    return text


def _ticker(envelope: dict[str, Any], snap: dict[str, Any], prefix: str) -> str:
    outer = envelope.get("ticker")
    inner = snap.get("ticker")
    if outer is None and inner is None:
        raise PayloadError("ticker", "is required")
    ticker = None if outer is None else normalise_ticker(outer, "ticker")
    from_payload = None if inner is None else normalise_ticker(inner, prefix + "ticker")
    return _agree(ticker, from_payload, prefix + "ticker")


def _choice(
    envelope: dict[str, Any],
    snap: dict[str, Any],
    prefix: str,
    name: str,
    allowed: frozenset[str],
    default: str,
) -> str:
    outer = envelope.get(name)
    inner = snap.get(name)
    value = None if outer is None else _one_of(outer, name, allowed)
    from_payload = None if inner is None else _one_of(inner, prefix + name, allowed)
    return _agree(value, from_payload, prefix + name) or default


def _agree(outer: str | None, inner: str | None, field: str) -> Any:
    if outer is not None and inner is not None and outer != inner:
        raise PayloadError(field, f"{inner!r} disagrees with the envelope's {outer!r}")
    return outer if outer is not None else inner


def _timestamp(
    envelope: dict[str, Any], snap: dict[str, Any], prefix: str, received_at_ms: int
) -> tuple[int, str]:
    """(epoch ms, which field gave it: `timestamp`, `received_at` or `arrival`)."""
    for source, source_prefix in ((snap, prefix), (envelope, "")):
        for name in ("timestamp", "received_at"):
            value = source.get(name)
            if value is not None:
                return to_epoch_ms(value, source_prefix + name, received_at_ms), name
    return received_at_ms, "arrival"


def _aliased(
    snap: dict[str, Any], prefix: str, names: tuple[str, ...], legacy: dict[str, Any]
) -> float | None:
    """The first non-zero value of the aliases `names`; other non-zero values go to `legacy`."""
    chosen: float | None = None
    sent: dict[str, float] = {}
    for name in names:
        value = optional_float(snap.get(name), prefix + name)
        if value is not None:
            sent[name] = value
            if chosen is None or (chosen == 0.0 and value != 0.0):
                chosen = value
    if len(sent) > 1:  # a 0 beside the real value is a provider's placeholder, not data
        legacy.update((name, value) for name, value in sent.items() if value not in (chosen, 0.0))
    return chosen


def _json_text(value: Any, name: str, legacy: dict[str, Any]) -> Any:
    """`value`, or the array/object a string `value` holds as JSON; a string that holds neither is
    kept in `legacy` under `name` (None returned)."""
    if type(value) is not str:
        return value
    try:
        decoded = load_json(value)
    except PayloadError:
        decoded = None
    if type(decoded) in (list, dict):
        return decoded
    legacy[name] = value
    return None


def _extra(envelope: dict[str, Any], snap: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    outer = {key: value for key, value in envelope.items() if key not in _KNOWN}
    known = _KNOWN_IN_PAYLOAD if prefix else _KNOWN
    inner = {key: value for key, value in snap.items() if key not in known}
    for part, part_prefix in ((inner, prefix), (outer, "")):
        for key, value in part.items():
            check_depth(value, part_prefix + key)
    return {**outer, **inner} or None
