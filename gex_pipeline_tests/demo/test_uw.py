"""UW message generator: Phoenix arrays, OCC symbols, string decimals, control frames."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from gex_pipeline.cli.demo.occ import occ_symbol
from gex_pipeline.cli.demo.uw import MESSAGE_KINDS, UwStream, to_object_form
from gex_pipeline.lib.payloads.occ import parse_occ_symbol
from gex_pipeline.lib.payloads.uw import UwControl, parse_uw

START = 1763130600  # 2025-11-14 09:30 New York
TRADE_FIELDS = {
    "id",
    "executed_at",
    "option_chain_id",
    "price",
    "size",
    "premium",
    "volume",
    "open_interest",
    "underlying_price",
    "implied_volatility",
    "delta",
    "gamma",
    "theta",
    "vega",
    "rho",
    "theo",
    "ask_vol",
    "bid_vol",
    "mid_vol",
    "multi_vol",
    "no_side_vol",
    "stock_multi_vol",
    "ewma_nbbo_ask",
    "ewma_nbbo_bid",
    "exchange",
    "tags",
    "report_flags",
    "is_agg",
    "upstream_condition_detail",
}
STOCK_FIELDS = {"sector", "industry_type", "issue_type", "marketcap", "next_earnings_date"}
DECIMAL_FIELDS = ("price", "premium", "underlying_price", "implied_volatility", "delta", "theo")
AGG_FIELDS = {
    "date",
    "call_premium",
    "put_premium",
    "call_premium_otm_only",
    "put_premium_otm_only",
    "call_volume",
    "put_volume",
    "put_call_ratio",
    "delta",
    "gamma",
    "theta",
    "vega",
    "net_call_premium",
    "net_put_premium",
    "net_volume",
    "timestamp",
}


@pytest.fixture(scope="module")
def trades() -> list[list[Any]]:
    stream = UwStream(seed=1, start_ts=START)
    return [stream.option_trade(index=i % 3 == 0) for i in range(60)]


def test_trade_is_a_five_element_phoenix_new_msg(trades: list[list[Any]]) -> None:
    for message in trades:
        join_ref, ref, channel, event, payload = message
        assert (join_ref, ref, event) == (None, None, "new_msg")
        assert channel.startswith("option_trades_super_algo")
        assert list(payload) == ["data"]


def test_stock_trade_carries_every_contract_field(trades: list[list[Any]]) -> None:
    stock = [m[4]["data"] for m in trades if m[2] == "option_trades_super_algo"]
    assert stock and all(set(d) == TRADE_FIELDS | STOCK_FIELDS for d in stock)


def test_index_trades_use_index_channels_and_0dte_roots(trades: list[list[Any]]) -> None:
    index = [m for m in trades if ":" in m[2]]
    assert {m[2] for m in index} <= {"option_trades_super_algo:SPX", "option_trades_super_algo:NDX"}
    for message in index:
        contract = parse_occ_symbol(message[4]["data"]["option_chain_id"])
        assert contract.root in ("SPXW", "NDXP")
        assert message[2].endswith(":" + contract.underlying)
        assert contract.expiry == dt.date(2025, 11, 14)
        assert set(message[4]["data"]) == TRADE_FIELDS


def test_option_chain_id_parses_as_occ_near_the_underlying_price(
    trades: list[list[Any]],
) -> None:
    for data in (m[4]["data"] for m in trades):
        contract = parse_occ_symbol(data["option_chain_id"])
        assert contract.expiry >= dt.date(2025, 11, 14)
        assert 0.7 < contract.strike / float(data["underlying_price"]) < 1.3


def test_numbers_are_string_decimals(trades: list[list[Any]]) -> None:
    for data in (m[4]["data"] for m in trades):
        for name in DECIMAL_FIELDS:
            assert isinstance(data[name], str)
            Decimal(data[name])
        assert isinstance(data["size"], int)


def test_premium_is_price_times_size_times_100(trades: list[list[Any]]) -> None:
    for data in (m[4]["data"] for m in trades):
        expected = Decimal(data["price"]) * data["size"] * 100
        assert Decimal(data["premium"]) == expected


def test_call_delta_positive_and_put_delta_negative(trades: list[list[Any]]) -> None:
    for data in (m[4]["data"] for m in trades):
        option_type = parse_occ_symbol(data["option_chain_id"]).option_type
        assert (Decimal(data["delta"]) >= 0) == (option_type == "call")


def test_trade_ids_are_unique_uuids(trades: list[list[Any]]) -> None:
    ids = [m[4]["data"]["id"] for m in trades]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_executed_at_is_iso_milliseconds_z_and_increasing(trades: list[list[Any]]) -> None:
    stamps = [m[4]["data"]["executed_at"] for m in trades]
    assert all(len(s) == 24 and s.endswith("Z") for s in stamps)
    parsed = [dt.datetime.fromisoformat(s) for s in stamps]
    assert parsed == sorted(parsed) and parsed[0].timestamp() >= START


def test_market_agg_is_a_market_state_message_with_contract_fields() -> None:
    message = UwStream(seed=2, start_ts=START).market_agg()
    assert message[:4] == [None, None, "market_agg_socket", "market-state"]
    assert set(message[4]["data"]) == AGG_FIELDS


def test_heartbeat_and_reply_are_control_frames_sharing_a_ref() -> None:
    stream = UwStream(seed=3, start_ts=START)
    beat, reply = stream.heartbeat(), stream.phx_reply()
    assert beat[3] == "heartbeat" and reply[3] == "phx_reply"
    assert beat[1] == reply[1] is not None
    assert reply[4] == {"response": {}, "status": "ok"}


def test_object_form_keeps_topic_event_and_payload() -> None:
    message = UwStream(seed=4, start_ts=START).option_trade()
    obj = to_object_form(message)
    assert obj == {"topic": message[2], "event_type": "new_msg", "payload": message[4]}


def test_messages_start_with_one_of_each_kind() -> None:
    first = list(UwStream(seed=5, start_ts=START).messages(len(MESSAGE_KINDS)))
    assert [m[3] if isinstance(m, list) else "object" for m in first] == [
        "new_msg",
        "new_msg",
        "market-state",
        "heartbeat",
        "phx_reply",
        "object",
    ]


def test_same_seed_gives_identical_messages() -> None:
    first = json.dumps(list(UwStream(seed=6, start_ts=START).messages(50)))
    second = json.dumps(list(UwStream(seed=6, start_ts=START).messages(50)))
    assert first == second


def test_occ_symbol_encodes_strike_in_thousandths() -> None:
    assert occ_symbol("SPXW", dt.date(2025, 11, 14), "P", 6700) == "SPXW251114P06700000"
    assert occ_symbol("NVDA", dt.date(2025, 11, 21), "C", 190) == "NVDA251121C00190000"


def test_occ_symbol_round_trips_through_the_payload_parser() -> None:
    parsed = parse_occ_symbol(occ_symbol("ARM", dt.date(2026, 1, 16), "C", 118.5))
    assert (parsed.root, parsed.expiry, parsed.option_type, parsed.strike) == (
        "ARM",
        dt.date(2026, 1, 16),
        "call",
        118.5,
    )


def test_occ_symbol_refuses_an_unknown_right_naming_the_field() -> None:
    with pytest.raises(ValueError, match="right"):
        occ_symbol("SPXW", dt.date(2025, 11, 14), "X", 6700)


def test_every_kind_is_read_by_the_uw_parser_with_trade_ids_kept() -> None:
    stream = UwStream(seed=7, start_ts=START)
    messages = [stream.message(kind) for kind in MESSAGE_KINDS]
    items = [parse_uw(json.dumps(m), (START + 60) * 1000)[0] for m in messages]
    controls = [
        kind for kind, item in zip(MESSAGE_KINDS, items, strict=True) if isinstance(item, UwControl)
    ]
    assert controls == ["heartbeat", "phx_reply"]
    trade_ids = [m[4]["data"]["id"] for m in messages[:2]]
    assert [items[0]["id"], items[1]["id"]] == trade_ids
    assert items[5]["form"] == "object"
