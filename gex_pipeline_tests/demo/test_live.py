"""Live `/gex` payload builders: every shape of contracts.md section 1, and the real parser's view."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from gex_pipeline.cli.demo.live import (
    MAX_CHANGE_KEYS,
    VARIANTS,
    LiveFeed,
    dict_rows,
    double_encoded,
    envelope_payload,
    flat_payload,
    gex_payloads,
    short_rows,
)
from gex_pipeline.lib.payloads.gex import parse_gex

START = 1763130600  # 2025-11-14 09:30 New York (EST)
NOW_MS = (START + 3600) * 1000


@pytest.fixture(scope="module")
def snap() -> dict[str, Any]:
    return LiveFeed("NQ_NDX", "gex_zero", seed=1, start_ts=START, strikes=30).next_snapshot()


def test_flat_payload_has_ticker_endpoint_and_epoch_seconds(snap: dict[str, Any]) -> None:
    body = flat_payload(snap, "gex_one")
    assert (body["ticker"], body["endpoint"], body["timestamp"]) == ("NQ_NDX", "gex_one", START)
    assert {"spot", "zero_gamma", "sum_gex_vol", "sum_gex_oi", "strikes", "max_priors"} <= set(body)


@pytest.mark.parametrize(
    ("time_format", "expected"),
    [
        ("s", START),
        ("s_float", START + 0.25),
        ("ms", START * 1000),
        ("iso", "2025-11-14T14:30:00Z"),
        ("iso_offset", "2025-11-14T09:30:00-05:00"),
    ],
)
def test_timestamp_formats(snap: dict[str, Any], time_format: str, expected: object) -> None:
    assert flat_payload(snap, time_format=time_format)["timestamp"] == expected


def test_iso_offset_uses_the_summer_offset_in_edt() -> None:
    summer = int(dt.datetime(2025, 7, 14, 13, 30, tzinfo=dt.UTC).timestamp())
    snap = LiveFeed("SPX", "gex_zero", 1, summer, strikes=4, warmup=0).next_snapshot()
    assert flat_payload(snap, time_format="iso_offset")["timestamp"] == "2025-07-14T09:30:00-04:00"


def test_aliases_rename_spot_and_sums(snap: dict[str, Any]) -> None:
    body = flat_payload(snap, aliases=True)
    assert body["spot_price"] == snap["spot"] and "spot" not in body
    assert body["net_gex_vol"] == snap["sum_gex_vol"] and "sum_gex_vol" not in body
    assert body["net_gex_oi"] == snap["sum_gex_oi"] and "sum_gex_oi" not in body


def test_zero_alias_sends_zero_beside_the_real_value(snap: dict[str, Any]) -> None:
    body = flat_payload(snap, zero_alias=True)
    assert body["sum_gex_vol"] == 0
    assert body["net_gex_vol"] == snap["sum_gex_vol"] != 0


def test_envelope_wraps_the_snapshot_in_payload(snap: dict[str, Any]) -> None:
    body = envelope_payload(snap, "gex_full")
    assert list(body) == ["ticker", "endpoint", "kind", "received_at", "payload"]
    assert (body["endpoint"], body["kind"], body["received_at"]) == (
        "gex_full",
        "snapshot",
        "2025-11-14T14:30:00Z",
    )
    assert body["payload"]["strikes"] == snap["strikes"]


def test_majors_envelope_holds_levels_without_strikes(snap: dict[str, Any]) -> None:
    payload = envelope_payload(snap, kind="majors")["payload"]
    assert "strikes" not in payload
    assert payload["major_pos_vol"] == snap["major_pos_vol"]
    assert payload["zero_gamma"] == snap["zero_gamma"]


def test_maxchange_envelope_has_the_six_windows(snap: dict[str, Any]) -> None:
    change = envelope_payload(snap, kind="maxchange")["payload"]["max_change"]
    assert (
        tuple(change) == MAX_CHANGE_KEYS == ("current", "one", "five", "ten", "fifteen", "thirty")
    )
    assert all(len(pair) == 2 for pair in change.values())


def test_unknown_envelope_kind_is_refused_naming_the_field(snap: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="kind"):
        envelope_payload(snap, kind="walls")


def test_double_encoded_body_is_a_json_string_holding_the_object(snap: dict[str, Any]) -> None:
    body = flat_payload(snap)
    text = json.dumps(double_encoded(body))
    assert isinstance(json.loads(text), str)
    assert json.loads(json.loads(text)) == body


def test_dict_rows_use_the_legacy_key_names(snap: dict[str, Any]) -> None:
    rows = dict_rows(snap)["strikes"]
    assert set(rows[0]) == {"strike", "gamma_now", "vanna", "history"}
    assert set(rows[1]) == {"strike", "gamma", "oi_gamma", "history"}
    assert rows[0]["strike"] == snap["strikes"][0][0]


def test_short_rows_have_two_or_three_elements_and_a_repeated_strike(
    snap: dict[str, Any],
) -> None:
    rows = short_rows(snap)["strikes"]
    assert {len(row) for row in rows} == {2, 3}
    strikes = [row[0] for row in rows]
    assert len(strikes) - len(set(strikes)) == 1


def test_live_feed_ticks_at_1hz_from_its_start() -> None:
    feed = LiveFeed("SPX", "gex_zero", 2, START, strikes=4, warmup=0)
    assert [feed.next_snapshot()["timestamp"] for _ in range(3)] == [START, START + 1, START + 2]


def test_warmup_fills_the_priors_of_the_first_live_snapshot() -> None:
    first = LiveFeed("SPX", "gex_zero", 2, START, strikes=10, warmup=1800).next_snapshot()
    assert all(all(p != 0.0 for p in row[3]) for row in first["strikes"][3:7])


def test_payloads_alternate_the_feeds_one_per_second() -> None:
    bodies = list(gex_payloads(4, seed=3, start_ts=START, strikes=4, warmup=0))
    parsed = [parse_gex(json.dumps(b), NOW_MS) for b in bodies]
    assert [(r["ticker"], r["timestamp"] // 1000) for r in parsed] == [
        ("SPX", START),
        ("NQ_NDX", START),
        ("SPX", START + 1),
        ("NQ_NDX", START + 1),
    ]


def test_payloads_are_deterministic() -> None:
    first = json.dumps(list(gex_payloads(22, seed=4, start_ts=START, strikes=5, warmup=60)))
    second = json.dumps(list(gex_payloads(22, seed=4, start_ts=START, strikes=5, warmup=60)))
    assert first == second


@pytest.mark.parametrize("index", range(len(VARIANTS)))
def test_every_shape_is_accepted_by_the_gex_parser(snap: dict[str, Any], index: int) -> None:
    body = VARIANTS[index](snap, "gex_one")
    record = parse_gex(json.dumps(body), NOW_MS)
    assert (record["ticker"], record["endpoint"]) == ("NQ_NDX", "gex_one")
    assert record["timestamp"] // 1000 == START
    assert record["spot"] == snap["spot"]
