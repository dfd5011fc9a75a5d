"""`POST /uw`: option-flow webhook messages (Phoenix arrays, objects, or a batch of them).

A body is one of:
- a Phoenix frame `[join_ref, ref, topic, event, payload]`: a 5-element array whose 3rd and 4th
  elements are strings (so a batch of five messages, whose elements are arrays or objects, is never
  taken for a frame); an array without arrays/objects outside its 5th slot is a malformed frame;
- an object `{"topic"|"channel", "event_type"|"event", "payload", "join_ref"?, "ref"?}`;
- a non-empty array of the two forms above (a batch), at most `max_batch` long.

Control frames (events `phx_*` and `heartbeat`, the `phoenix` channel) become `UwControl`; every
other message, unknown channels included, becomes a staging "uw record" (`docs/staging.md`).

Messages are identified and compared on their upstream content: client annotations, the keys of
the payload starting with `_`, are left out (the capture userscripts add
`_computed: {is_sweep, ..., captured_at}` to each copy they forward). A record's `id` is the
trade `data.id` on `option_trades*` channels when present, otherwise the sha256 of the canonical
JSON of `{"channel", "event", "payload"}` (join_ref/ref and the form left out, so the same message
relayed twice or in either form gets one id). Its `content_hash` is the sha256 of the payload as
orjson writes it with sorted keys: two records of one id are duplicates when it is equal (one trade
relayed on two channels, with other annotations), conflicts otherwise.
Nothing is dropped: the payload is staged as sent, and fields of an object message beyond its
channel, event, refs and payload are kept in `extra`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import orjson

from gex_pipeline.lib.payloads.errors import PayloadError
from gex_pipeline.lib.payloads.jsonbody import check_depth, json_type, load_json

MAX_BATCH = 1000
_OBJECT_KEYS = ("join_ref", "ref", "payload")
TRADE_CHANNEL_PREFIX = "option_trades"
FRAME_ARRAY = "Phoenix [join_ref, ref, topic, event, payload] array"
FRAME_SHAPE = f"a {FRAME_ARRAY} or a message object"


@dataclass(frozen=True)
class UwControl:
    """A control frame: acknowledged, never stored."""

    reason: str


UwItem = UwControl | dict[str, Any]


def parse_uw(body: bytes | str, received_at_ms: int, max_batch: int = MAX_BATCH) -> list[UwItem]:
    """Parse a `/uw` body into one item per message, in order.

    Raises `InvalidJson` (400) or `PayloadError` (422) naming the field: `body` for an empty or
    oversized batch, `[2]` for the third message of a batch, `[2][3]` for its event, `topic` ...
    """
    value = load_json(body)
    if type(value) is dict or is_phoenix_frame(value):
        return [_message(value, "", received_at_ms)]
    if type(value) is not list:
        raise PayloadError("body", f"must be {FRAME_SHAPE}, or an array of them")
    if not value:
        raise PayloadError("body", "is an empty batch")
    if len(value) > max_batch:
        raise PayloadError("body", f"batch of {len(value)} messages exceeds {max_batch}")
    items: list[UwItem] = []
    for item in value:
        try:
            items.append(_message(item, "", received_at_ms))
        except PayloadError as exc:
            # the path of the refused message is built only now (not once per message)
            raise PayloadError(_within(len(items), exc.field), exc.message) from None
    return items


def _within(index: int, field: str) -> str:
    """`field` of a lone message as the path inside message `index` of a batch."""
    if field == "body":
        return f"[{index}]"
    return f"[{index}]{field}" if field.startswith("[") else f"[{index}].{field}"


def is_phoenix_frame(value: Any) -> bool:
    """True for an array meant as one Phoenix frame: 5 elements whose topic and event (3rd, 4th)
    are strings, or any non-empty array without arrays/objects outside the payload (5th) slot (a
    malformed frame, refused naming its bad element rather than taken for a batch).
    """
    if type(value) is not list or not value:
        return False
    if len(value) == 5 and type(value[2]) is str and type(value[3]) is str:
        return True
    return all(type(item) not in (list, dict) for index, item in enumerate(value) if index != 4)


def _message(value: Any, at: str, received_at_ms: int) -> UwItem:
    if is_phoenix_frame(value):
        if len(value) != 5:
            raise PayloadError(
                at or "body", f"a {FRAME_ARRAY} must have 5 elements, got {len(value)}"
            )
        join_ref, ref, channel, event, payload = value
        form, extra = "phoenix", None
        _check_ref(join_ref, f"{at}[0]")
        _check_ref(ref, f"{at}[1]")
        _check_name(channel, f"{at}[2]")
        _check_name(event, f"{at}[3]")
        check_depth(payload, f"{at}[4]")
    elif type(value) is dict:
        form = "object"
        channel, channel_at = _first_key(value, at, "topic", "channel")
        event, event_at = _first_key(value, at, "event_type", "event")
        if channel is None:
            raise PayloadError(f"{at}.topic" if at else "topic", "is required")
        _check_name(channel, channel_at)
        if event is not None:
            _check_name(event, event_at)
        join_ref, ref, payload = value.get("join_ref"), value.get("ref"), value.get("payload")
        _check_ref(join_ref, f"{at}.join_ref" if at else "join_ref")
        _check_ref(ref, f"{at}.ref" if at else "ref")
        check_depth(payload, f"{at}.payload" if at else "payload")
        used = {channel_at.rpartition(".")[2], event_at.rpartition(".")[2], *_OBJECT_KEYS}
        extra = {key: item for key, item in value.items() if key not in used} or None
        check_depth(extra, at or "body")
    else:
        raise PayloadError(at or "body", f"must be {FRAME_SHAPE}, got {json_type(value)}")
    control = control_reason(channel, event)
    if control is not None:
        return UwControl(control)
    upstream = upstream_payload(payload)
    return {
        "id": trade_id(channel, payload) or message_hash(channel, event, upstream),
        "received_at": received_at_ms,
        "form": form,
        "channel": channel,
        "event": event,
        "join_ref": join_ref,
        "ref": ref,
        "payload": payload,
        "content_hash": hashlib.sha256(
            orjson.dumps(upstream, option=orjson.OPT_SORT_KEYS)
        ).hexdigest(),
        "extra": extra,
    }


def control_reason(channel: str, event: str | None) -> str | None:
    """Why a message is a control frame (`phx_*` event, heartbeat, phoenix channel), or None."""
    if event is not None and event.startswith("phx_"):
        return f"control frame {event}"
    if event == "heartbeat":
        return "heartbeat"
    if channel == "phoenix":
        return "phoenix channel"
    return None


def trade_id(channel: str, payload: Any) -> str | None:
    """The non-empty string `data.id` of a message on an `option_trades*` channel, else None."""
    if channel.startswith(TRADE_CHANNEL_PREFIX) and type(payload) is dict:
        data = payload.get("data")
        found = data.get("id") if type(data) is dict else None
        if type(found) is str and found.strip():
            return found.strip()
    return None


def upstream_payload(payload: Any) -> Any:
    """`payload` without client annotations (its keys starting with `_`); the same object when
    there are none."""
    if type(payload) is not dict or not any(key[:1] == "_" for key in payload):
        return payload
    return {key: item for key, item in payload.items() if key[:1] != "_"}


def message_hash(channel: str, event: str | None, upstream: Any) -> str:
    """sha256 hex of the canonical JSON (sorted keys, no spaces, non-ASCII as is) of the message
    `{"channel", "event", "payload": upstream}`."""
    canonical = json.dumps(
        {"channel": channel, "event": event, "payload": upstream},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _first_key(value: dict[str, Any], at: str, *keys: str) -> tuple[Any, str]:
    for key in keys:
        if value.get(key) is not None:
            return value[key], f"{at}.{key}" if at else key
    return None, f"{at}.{keys[0]}" if at else keys[0]


def _check_name(value: Any, field: str) -> None:
    if type(value) is not str or not value.strip():
        raise PayloadError(field, f"must be a non-empty string, got {json_type(value)}")


def _check_ref(value: Any, field: str) -> None:
    if value is not None and type(value) not in (str, int):
        raise PayloadError(field, f"must be a string, an integer or null, got {json_type(value)}")
