"""`POST /gex` through the real app (in process): accepted shapes are staged, refusals stage nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

FLAT = {
    "ticker": "spx",
    "timestamp": 1763130600,
    "endpoint": "gex_zero",
    "spot": 6734.25,
    "zero_gamma": 6708.6,
    "sum_gex_vol": 1712585.519,
    "strikes": [[6700, -25.94, -8.91, [-11.9, -28.49, -55.89, -19.29, -31.29]], [6735, 132.54]],
    "max_priors": [[6740, 170979.742]],
}
ENVELOPE = {
    "ticker": "NQ_NDX",
    "endpoint": "gex_one",
    "kind": "snapshot",
    "received_at": "2025-11-13T16:45:59Z",
    "payload": {"ticker": "NQ_NDX", "timestamp": "2025-11-13T16:45:59Z", "spot": 25190.75},
}


def test_flat_snapshot_is_acknowledged_with_its_id(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/gex", json=FLAT)
    assert answer.status_code == 202
    body = answer.json()
    assert (body["status"], body["ticker"], body["endpoint"]) == ("ok", "SPX", "gex_zero")
    records = staged("gex")
    assert [r["id"] for r in records] == [body["id"]]
    assert records[0]["timestamp"] == 1763130600000


def test_envelope_snapshot_is_staged(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post("/gex", json=ENVELOPE)
    assert answer.status_code == 202
    assert answer.json()["endpoint"] == "gex_one"
    assert staged("gex")[0]["spot"] == 25190.75


def test_double_encoded_snapshot_is_staged(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post("/gex", content=json.dumps(json.dumps(FLAT)))
    assert answer.status_code == 202
    assert staged("gex")[0]["ticker"] == "SPX"


def test_text_plain_snapshot_is_parsed_as_json(ingest_client: Callable, staged: Callable) -> None:
    answer = ingest_client().post(
        "/gex", content=json.dumps(FLAT), headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert answer.status_code == 202
    assert len(staged("gex")) == 1


def test_invalid_json_is_400_naming_body_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/gex", content=b'{"ticker": "SPX",')
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "body"
    assert staged("gex") == []


def test_missing_ticker_is_422_naming_ticker_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/gex", json={k: v for k, v in FLAT.items() if k != "ticker"})
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"] == "ticker"
    assert staged("gex") == []


def test_non_numeric_strike_value_is_422_naming_the_cell(
    ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/gex", json={**FLAT, "strikes": [[6700, "lots"]]})
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"].startswith("strikes[0]")
    assert staged("gex") == []


def test_oversized_body_is_413_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    client = ingest_client(GEX_INGEST_MAX_BODY_GEX="1000")
    answer = client.post("/gex", json={**FLAT, "strikes": [[6700 + i, 1.5] for i in range(200)]})
    assert answer.status_code == 413
    assert answer.json()["detail"]["field"] == "body"
    assert staged("gex") == []


def test_acknowledged_snapshot_is_sealed_at_shutdown(
    ingest_client: Callable, data_dir: Path
) -> None:
    client = ingest_client()
    assert client.post("/gex", json=FLAT).status_code == 202
    client.__exit__(None, None, None)  # lifespan shutdown, as on SIGTERM
    sealed = list((data_dir / "staging" / "gex" / "sealed").glob("*.jsonl"))
    assert len(sealed) == 1
    assert list((data_dir / "staging" / "gex" / "open").iterdir()) == []


SHAPES = {
    "epoch_ms": {**FLAT, "timestamp": 1763130600123},
    "epoch_float_seconds": {**FLAT, "timestamp": 1763130600.5},
    "iso_offset": {**FLAT, "timestamp": "2025-11-14T09:30:00-05:00"},
    "aliases": {
        "ticker": "ES_SPX",
        "timestamp": 1763130600,
        "spot_price": 6740.5,
        "net_gex_vol": 0,
        "net_gex": 12.5,
        "net_gex_oi": 3.5,
    },
    "three_element_rows": {**FLAT, "strikes": [[25187.21, 10.07, -3.2]]},
    "legacy_dict_rows": {
        **FLAT,
        "strikes": [{"strike": 6700, "gamma_now": 1.5, "vanna": 0.5, "history": [1, 2, 3, 4, 5]}],
    },
    "no_strikes_null_priors": {
        "ticker": "VIX",
        "timestamp": 1763130600,
        "spot": 17.25,
        "max_priors": None,
    },
    "max_change": {**FLAT, "max_change": {"current": [6735, 12.5], "one": [6740, 3.0]}},
    "envelope_majors": {**ENVELOPE, "kind": "majors"},
    "envelope_maxchange": {
        **ENVELOPE,
        "kind": "maxchange",
        "payload": {"ticker": "NQ_NDX", "max_change": {"current": [25187.21, 1.5]}},
    },
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_contract_shape_is_staged(
    shape: str, ingest_client: Callable, staged: Callable
) -> None:
    answer = ingest_client().post("/gex", json=SHAPES[shape])
    assert answer.status_code == 202, answer.text
    assert [r["id"] for r in staged("gex")] == [answer.json()["id"]]


def test_oversized_chunked_body_is_413_and_stages_nothing(
    ingest_client: Callable, staged: Callable
) -> None:
    client = ingest_client(GEX_INGEST_MAX_BODY_GEX="1000")
    answer = client.post("/gex", content=iter([b" " * 600, b" " * 600, json.dumps(FLAT).encode()]))
    assert answer.status_code == 413
    assert staged("gex") == []
