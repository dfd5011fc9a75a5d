"""`parse_uw`: Phoenix frames, object messages, batches, control frames and refusals."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import pytest

from gex_pipeline.lib.payloads.errors import InvalidJson, PayloadError
from gex_pipeline.lib.payloads.uw import UwControl, parse_uw

NOW_MS = 1_763_130_725_000
TRADE_ID = "0b7e1a52-5d7c-4d53-9a39-2f3f7b1c9e10"


def trade_frame(
    channel: str = "option_trades_super_algo", trade_id: str | None = TRADE_ID
) -> list[Any]:
    data: dict[str, Any] = {
        "executed_at": "2025-11-14T15:02:11.482Z",
        "option_chain_id": "NVDA251121C00190000",
        "price": "3.45",
        "size": 250,
        "premium": "86250.00",
        "tags": ["ask_side", "bullish"],
        "is_agg": False,
    }
    if trade_id is not None:
        data["id"] = trade_id
    return [None, None, channel, "new_msg", {"data": data}]


def market_frame(call_premium: str = "1234567.89") -> list[Any]:
    data = {
        "date": "2025-11-14",
        "call_premium": call_premium,
        "put_call_ratio": "1.5",
        "call_volume": 10000,
    }
    return [None, None, "market_agg_socket", "market-state", {"data": data}]


def parse(body: Any, **kwargs: Any) -> list[Any]:
    return parse_uw(json.dumps(body), NOW_MS, **kwargs)


def refusal(body: Any, **kwargs: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body, **kwargs)
    return info.value


def test_phoenix_trade_frame_becomes_one_record() -> None:
    frame = trade_frame()
    assert parse(frame) == [
        {
            "id": TRADE_ID,
            "received_at": NOW_MS,
            "form": "phoenix",
            "channel": "option_trades_super_algo",
            "event": "new_msg",
            "join_ref": None,
            "ref": None,
            "payload": frame[4],
            "content_hash": hashlib.sha256(
                orjson.dumps(frame[4], option=orjson.OPT_SORT_KEYS)
            ).hexdigest(),
            "extra": None,
        }
    ]


def test_symbol_channel_trade_uses_the_trade_id() -> None:
    [record] = parse(trade_frame(channel="option_trades_super_algo:SPX"))
    assert (record["id"], record["channel"]) == (TRADE_ID, "option_trades_super_algo:SPX")


def test_payload_is_stored_exactly_as_sent() -> None:
    [record] = parse(market_frame())
    assert record["payload"] == market_frame()[4]
    assert record["payload"]["data"]["call_premium"] == "1234567.89"


def test_message_without_trade_id_gets_the_sha256_of_its_canonical_json() -> None:
    frame = market_frame()
    canonical = json.dumps(
        {"channel": frame[2], "event": frame[3], "payload": frame[4]},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    [record] = parse(frame)
    assert record["id"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_client_annotations_change_neither_the_id_nor_the_content_hash() -> None:
    plain, annotated = market_frame(), market_frame()
    annotated[4]["_computed"] = {"is_sweep": False, "captured_at": "2025-11-14T15:02:11.600Z"}
    [first], [second] = parse(plain), parse(annotated)
    assert (first["id"], first["content_hash"]) == (second["id"], second["content_hash"])
    assert second["payload"]["_computed"]["captured_at"] == "2025-11-14T15:02:11.600Z"


def test_one_trade_on_two_channels_has_one_content_hash() -> None:
    [first] = parse(trade_frame())
    [second] = parse(trade_frame(channel="option_trades_super_algo:NVDA"))
    assert first["content_hash"] == second["content_hash"]
    [changed] = parse([*trade_frame()[:4], {"data": {"id": TRADE_ID}}])
    assert changed["id"] == first["id"] and changed["content_hash"] != first["content_hash"]


def test_object_fields_beyond_the_message_are_kept_in_extra() -> None:
    obj = {
        "topic": "market_agg_socket",
        "channel": "market_agg_socket:v2",
        "event_type": "market-state",
        "payload": {"data": {}},
        "received_at": "2025-11-14T15:02:11Z",
        "user_agent": "Mozilla/5.0",
    }
    [record] = parse(obj)
    assert record["extra"] == {
        "channel": "market_agg_socket:v2",
        "received_at": "2025-11-14T15:02:11Z",
        "user_agent": "Mozilla/5.0",
    }


def test_trade_without_id_gets_a_content_hash() -> None:
    [record] = parse(trade_frame(trade_id=None))
    assert len(record["id"]) == 64 and int(record["id"], 16) >= 0


def test_different_messages_get_different_hash_ids() -> None:
    [first] = parse(market_frame("1.0"))
    [second] = parse(market_frame("2.0"))
    assert first["id"] != second["id"]


def test_same_message_in_object_and_phoenix_form_gets_the_same_id() -> None:
    frame = market_frame()
    obj = {"topic": frame[2], "event_type": frame[3], "payload": frame[4]}
    assert parse(frame)[0]["id"] == parse(obj)[0]["id"]


def test_object_form_becomes_an_object_record() -> None:
    obj = {
        "topic": "dark_pool_socket",
        "event_type": "new_msg",
        "payload": {"data": {"size": "100"}},
    }
    [record] = parse(obj)
    assert (record["form"], record["channel"], record["event"]) == (
        "object",
        "dark_pool_socket",
        "new_msg",
    )
    assert record["payload"] == {"data": {"size": "100"}}


def test_object_form_with_channel_and_event_keys_is_accepted() -> None:
    [record] = parse(
        {"channel": "market_agg_socket", "event": "market-state", "payload": {}, "ref": "7"}
    )
    assert (record["channel"], record["event"], record["ref"]) == (
        "market_agg_socket",
        "market-state",
        "7",
    )


def test_unknown_channel_is_kept() -> None:
    [record] = parse([None, "3", "brand_new_socket:XYZ", "whatever", [1, "two", {"three": 3}]])
    assert (record["channel"], record["ref"], record["payload"]) == (
        "brand_new_socket:XYZ",
        "3",
        [1, "two", {"three": 3}],
    )


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (
            [None, "12", "phoenix", "phx_reply", {"response": {}, "status": "ok"}],
            "control frame phx_reply",
        ),
        (["1", "1", "option_trades_super_algo", "phx_join", {}], "control frame phx_join"),
        ([None, None, "option_trades_super_algo", "phx_error", {}], "control frame phx_error"),
        ([None, "5", "phoenix", "heartbeat", {}], "heartbeat"),
        ([None, None, "phoenix", "status", {}], "phoenix channel"),
    ],
)
def test_control_frames_are_recognised(frame: list[Any], reason: str) -> None:
    assert parse(frame) == [UwControl(reason)]


def test_control_object_is_recognised() -> None:
    assert parse({"topic": "phoenix", "event": "heartbeat", "payload": {}}) == [
        UwControl("heartbeat")
    ]


def test_batch_of_messages_gives_one_item_each_in_order() -> None:
    batch = [trade_frame(), [None, "9", "phoenix", "heartbeat", {}], market_frame()]
    items = parse(batch)
    assert [type(item) for item in items] == [dict, UwControl, dict]
    assert items[0]["id"] == TRADE_ID and items[2]["channel"] == "market_agg_socket"


def test_batch_of_exactly_five_phoenix_frames_is_a_batch() -> None:
    batch = [market_frame(str(i)) for i in range(5)]
    items = parse(batch)
    assert len(items) == 5
    assert [item["payload"]["data"]["call_premium"] for item in items] == ["0", "1", "2", "3", "4"]


def test_batch_of_five_objects_is_a_batch() -> None:
    batch = [{"topic": "dark_pool_socket", "payload": {"n": i}} for i in range(5)]
    assert [item["payload"] for item in parse(batch)] == [{"n": i} for i in range(5)]


def test_batch_mixing_forms_is_accepted() -> None:
    items = parse([trade_frame(), {"topic": "dark_pool_socket", "payload": {}}])
    assert [item["form"] for item in items] == ["phoenix", "object"]


def test_empty_batch_is_refused_naming_body() -> None:
    assert refusal([]).field == "body"


def test_batch_over_the_limit_is_refused_naming_body() -> None:
    assert refusal([market_frame()] * 4, max_batch=3).field == "body"


def test_batch_at_the_limit_is_accepted() -> None:
    assert len(parse([market_frame()] * 3, max_batch=3)) == 3


@pytest.mark.parametrize(
    ("batch", "field"),
    [
        ([market_frame(), "hello"], "[1]"),
        ([market_frame(), 42], "[1]"),
        ([market_frame(), [None, None, "x"]], "[1]"),
        ([market_frame(), [market_frame()]], "[1]"),
        ([market_frame(), [None, None, "", "new_msg", {}]], "[1][2]"),
        ([market_frame(), [None, None, "x", " ", {}]], "[1][3]"),
        ([market_frame(), [{"a": 1}, None, "x", "new_msg", {}]], "[1][0]"),
        ([market_frame(), [None, [1], "x", "new_msg", {}]], "[1][1]"),
        ([{"payload": {}}], "[0].topic"),
        ([{"topic": "x", "event_type": 5}], "[0].event_type"),
        ([{"topic": "x", "ref": {"a": 1}}], "[0].ref"),
    ],
)
def test_non_message_in_a_batch_is_refused_naming_its_index(batch: list[Any], field: str) -> None:
    assert refusal(batch).field == field


def test_refused_batch_returns_nothing_for_its_valid_messages() -> None:
    with pytest.raises(PayloadError):
        parse([market_frame(), trade_frame(), "bad"])


@pytest.mark.parametrize("body", ["hello", 42, None, True])
def test_body_that_is_no_message_is_refused_naming_body(body: Any) -> None:
    assert refusal(body).field == "body"


def test_object_without_topic_is_refused_naming_topic() -> None:
    assert refusal({"event_type": "new_msg", "payload": {}}).field == "topic"


def test_non_finite_number_in_a_payload_is_refused_naming_its_path() -> None:
    body = '[null, null, "market_agg_socket", "market-state", {"data": {"delta": NaN}}]'
    with pytest.raises(PayloadError) as info:
        parse_uw(body, NOW_MS)
    assert info.value.field == "[4].data.delta"


def test_invalid_json_is_a_400() -> None:
    with pytest.raises(InvalidJson) as info:
        parse_uw(b"[null, null, ", NOW_MS)
    assert info.value.status == 400


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def test_payload_nested_too_deep_is_refused_naming_it() -> None:
    assert refusal([None, None, "dark_pool_socket", "new_msg", nested(65)]).field == "[4]"


def test_object_payload_nested_too_deep_in_a_batch_names_its_index() -> None:
    assert refusal([market_frame(), {"topic": "x", "payload": nested(65)}]).field == "[1].payload"


def test_payload_nested_within_the_limit_is_kept() -> None:
    [record] = parse([None, None, "dark_pool_socket", "new_msg", nested(64)])
    assert record["payload"] == nested(64)


def test_integer_literal_longer_than_python_converts_is_refused_naming_its_path() -> None:
    body = '[null, null, "x", "new_msg", {"a": ' + "9" * 5000 + "}]"
    with pytest.raises(PayloadError) as info:
        parse_uw(body, NOW_MS)
    assert (info.value.status, info.value.field) == (422, "[4].a")


@pytest.mark.parametrize(
    ("frame", "field"),
    [([None, None, 5, "phx_reply", {}], "[2]"), ([None, None, "x", 7, {}], "[3]")],
)
def test_single_frame_with_a_non_string_topic_or_event_is_refused_naming_it(
    frame: list[Any], field: str
) -> None:
    assert refusal(frame).field == field


@pytest.mark.parametrize(
    "frame", [[None, None, "x", "new_msg"], [None, None, "x", "new_msg", {}, 1], ["x"]]
)
def test_single_frame_of_the_wrong_length_is_refused_naming_body(frame: list[Any]) -> None:
    error = refusal(frame)
    assert (error.field, "5 elements" in error.message) == ("body", True)


def test_frame_of_the_wrong_length_in_a_batch_is_refused_naming_its_index() -> None:
    error = refusal([market_frame(), [None, None, "x", "new_msg"]])
    assert (error.field, "5 elements" in error.message) == ("[1]", True)
