"""`POST /uw`: data messages staged, control frames acknowledged and dropped, batches, refusals."""

from __future__ import annotations

import json
from collections.abc import Callable

TRADE = [
    None,
    None,
    "option_trades_super_algo:SPX",
    "new_msg",
    {
        "data": {
            "id": "5c7f9a1e-1f0b-4a4e-8d8e-6c1b2a3d4e5f",
            "option_chain_id": "SPXW251114P06700000",
        }
    },
]
MARKET = [None, None, "market_agg_socket", "market-state", {"data": {"date": "2025-11-14"}}]
HEARTBEAT = [None, "12", "phoenix", "phx_reply", {"response": {}, "status": "ok"}]


def test_phoenix_trade_is_staged_under_its_trade_id(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/uw", json=TRADE)
    assert answer.status_code == 202
    assert answer.json()["status"] == "received"
    records = staged("uw")
    assert [r["id"] for r in records] == ["5c7f9a1e-1f0b-4a4e-8d8e-6c1b2a3d4e5f"]
    assert records[0]["channel"] == "option_trades_super_algo:SPX"


def test_heartbeat_is_ignored_with_200_and_not_staged(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/uw", json=HEARTBEAT)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert answer.json()["reason"]
    assert staged("uw") == []


def test_object_form_message_is_staged(ingest_client: Callable, staged: Callable) -> None:
    message = {"topic": "market_agg_socket", "event_type": "market-state", "payload": {"data": {}}}
    assert ingest_client().post("/uw", json=message).status_code == 202
    assert staged("uw")[0]["form"] == "object"


def test_unknown_channel_is_kept(ingest_client: Callable, staged: Callable) -> None:
    message = [None, None, "brand_new_socket", "new_msg", {"data": {"x": 1}}]
    assert ingest_client().post("/uw", json=message).status_code == 202
    assert staged("uw")[0]["channel"] == "brand_new_socket"


def test_batch_stages_data_messages_and_counts_controls(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/uw", json=[TRADE, HEARTBEAT, MARKET])
    assert answer.status_code == 202
    assert (answer.json()["received"], answer.json()["ignored"]) == (2, 1)
    assert [r["channel"] for r in staged("uw")] == [
        "option_trades_super_algo:SPX",
        "market_agg_socket",
    ]


def test_empty_batch_is_422_and_stages_nothing(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post("/uw", json=[])
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"]
    assert staged("uw") == []


def test_invalid_json_is_400(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post("/uw", content=b"[null, null,")
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "body"
    assert staged("uw") == []


def test_text_plain_message_is_parsed_as_json(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post(
        "/uw", content=json.dumps(MARKET), headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert answer.status_code == 202
    assert staged("uw")[0]["channel"] == "market_agg_socket"


def test_batch_of_only_control_frames_is_ignored(ingest_client: Callable, staged: Callable) -> None:
    join = [None, "1", "option_trades_super_algo", "phx_join", {}]
    answer = ingest_client().post("/uw", json=[HEARTBEAT, join])
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert staged("uw") == []


def test_oversized_batch_is_refused_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client(GEX_INGEST_UW_MAX_BATCH="2").post("/uw", json=[TRADE, MARKET, TRADE])
    assert answer.status_code == 422
    assert staged("uw") == []
