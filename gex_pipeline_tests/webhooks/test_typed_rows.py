"""No typed row lost: every distinct accepted message reaches its typed table (or a conflicts table),
client annotations do not make conflicts, and databases of schema 4 migrate without loss."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gex_pipeline.lib.db.migrations import MIGRATIONS
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.live_load import load_segments as load_gex_segments
from gex_pipeline.lib.payloads.gex import parse_gex
from gex_pipeline.lib.payloads.uw import UwControl, parse_uw
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline_tests.support.staging_trees import UW_BASE_S, GexStagingTree, UwStagingTree

RECEIVED_AT = UW_BASE_S * 1000
MARKET_FIELDS = ("call_premium", "put_premium", "put_volume", "net_volume")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _state(timestamp: str | None = None, **data: object) -> list[object]:
    fields: dict[str, object] = {"date": "2025-11-14", **data}
    if timestamp is not None:
        fields["timestamp"] = timestamp
    return [None, None, "market_agg_socket", "market-state", {"data": fields}]


def _batch(messages: list[object]) -> list[dict]:
    """The records of one `/uw` POST of `messages` (one arrival millisecond for all)."""
    return [i for i in parse_uw(json.dumps(messages), RECEIVED_AT) if not isinstance(i, UwControl)]


def _uw_segments(data_dir: Path) -> list[Segment]:
    sealed = sorted((data_dir / "staging" / "uw" / "sealed").glob("*.jsonl"))
    return [Segment(int(path.name[:20]), path) for path in sealed]


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "gex.db")) as con:
        migrate(con)
        yield con


def test_three_states_posted_in_one_request_give_three_typed_rows(
    ingest_client: Callable, data_dir: Path, con
) -> None:
    # The reproduction: 202 received 3, universal_webhooks +3, market_agg_state +1.
    states = [_state(call_premium=str(n)) for n in (1, 2, 3)]
    client = ingest_client(GEX_INGEST_SEAL_AGE_MS="1")
    assert client.post("/uw", json=states).json()["received"] == 3
    deadline = time.monotonic() + 10
    while not _uw_segments(data_dir) and time.monotonic() < deadline:
        time.sleep(0.01)
    report = load_uw_segments(con, _uw_segments(data_dir))
    assert (_count(con, "universal_webhooks"), _count(con, "market_agg_state")) == (3, 3)
    assert (report.total("market_added"), report.total("duplicates")) == (3, 0)


state_values = st.fixed_dictionaries(
    {},
    optional={name: st.integers(-(10**9), 10**9).map(str) for name in MARKET_FIELDS},
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    contents=st.lists(state_values, min_size=1, max_size=25, unique_by=json.dumps),
    repeats=st.lists(st.integers(0, 24), max_size=10),
    timestamp=st.sampled_from([None, "2025-11-14T15:00:00Z", "1763132400000"]),
)
def test_distinct_states_of_one_batch_and_millisecond_each_get_a_typed_row(
    tmp_path_factory: pytest.TempPathFactory,
    contents: list[dict[str, str]],
    repeats: list[int],
    timestamp: str | None,
) -> None:
    messages = [_state(timestamp, **content) for content in contents]
    repeated = [messages[i % len(messages)] for i in repeats]
    staging = UwStagingTree(tmp_path_factory.mktemp("staging"))
    with duckdb.connect() as con:
        migrate(con)
        report = load_uw_segments(con, [staging.seal(_batch(messages + repeated))])
        assert _count(con, "market_agg_state") == len(messages)
        assert (report.total("market_added"), report.total("duplicates")) == (
            len(messages),
            len(repeated),
        )
        stored = con.execute(
            "SELECT m.message_id FROM market_agg_state m JOIN universal_webhooks u"
            " ON u.id = m.message_id AND u.received_at = m.received_at"
        ).fetchall()
        assert len(stored) == len(messages)


def _trade_copy(channel: str, captured_at: str, **changes: object) -> list[object]:
    """One upstream trade as the v3.0 capture userscript forwards it from one of its sockets."""
    data = {"id": "t-1", "executed_at": "2025-11-14T15:02:11.482Z", "premium": "86250.00"}
    data.update(changes)
    computed = {"is_sweep": False, "sweep_conviction": "none", "captured_at": captured_at}
    return [None, None, channel, "new_msg", {"data": data, "_computed": computed}]


def test_annotated_copies_of_one_upstream_trade_are_duplicates_not_conflicts(
    con, uw_staging: UwStagingTree
) -> None:
    copies = [
        _trade_copy("option_trades_super_algo", "2025-11-14T15:02:11.600Z"),
        _trade_copy("option_trades_super_algo:NVDA", "2025-11-14T15:02:11.601Z"),
    ]
    later = _trade_copy("option_trades_super_algo", "2025-11-14T15:02:12.000Z")
    load_uw_segments(con, [uw_staging.seal(uw_staging.records(copies))])
    report = load_uw_segments(con, [uw_staging.seal(uw_staging.records([later]))])
    assert (_count(con, "option_trades_events"), _count(con, "webhook_conflicts")) == (1, 0)
    assert report.total("duplicates") == 1
    kept = con.execute("SELECT payload->>'$._computed.captured_at' FROM universal_webhooks")
    assert kept.fetchall() == [("2025-11-14T15:02:11.600Z",)]


def test_copy_whose_upstream_data_differs_is_still_a_conflict(
    con, uw_staging: UwStagingTree
) -> None:
    first = _trade_copy("option_trades_super_algo", "2025-11-14T15:02:11.600Z")
    other = _trade_copy("option_trades_super_algo", "2025-11-14T15:02:11.600Z", premium="1.00")
    report = load_uw_segments(con, [uw_staging.seal(uw_staging.records([first, other]))])
    assert (report.total("conflicts"), _count(con, "webhook_conflicts")) == (1, 1)


def test_annotated_copies_of_one_market_state_give_one_typed_row(
    con, uw_staging: UwStagingTree
) -> None:
    copies = []
    for captured_at in ("2025-11-14T15:00:00.100Z", "2025-11-14T15:00:00.101Z"):
        state = _state(call_premium="5")
        state[4]["_computed"] = {"captured_at": captured_at}
        copies.append(state)
    report = load_uw_segments(con, [uw_staging.seal(uw_staging.records(copies))])
    assert (_count(con, "market_agg_state"), report.total("duplicates")) == (1, 1)


def test_fields_of_object_messages_beyond_the_message_are_kept(
    con, uw_staging: UwStagingTree
) -> None:
    # the predecessor's webhook model: topic, event_type, payload, received_at, source_ip, ...
    message = {
        "topic": "market_agg_socket",
        "event_type": "market-state",
        "payload": {"data": {"date": "2025-11-14", "call_premium": "7"}},
        "received_at": "2025-11-14T15:00:00Z",
        "source_ip": "192.168.1.20",
    }
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([message]))])
    assert con.execute("SELECT extra->>'$.source_ip' FROM universal_webhooks").fetchall() == [
        ("192.168.1.20",)
    ]
    assert _count(con, "market_agg_state") == 1


def test_schema_4_database_migrates_without_loss(tmp_path: Path, uw_staging: UwStagingTree):
    [old] = uw_staging.records([_state("2025-11-14T15:00:00Z", call_premium="1")])
    with duckdb.connect(str(tmp_path / "v4.db")) as con:
        assert migrate(con, MIGRATIONS[:4]) == 4
        con.execute(
            "INSERT INTO universal_webhooks VALUES ($id, $at, DATE '2025-11-14', 'phoenix',"
            " 'market_agg_socket', 'market-state', NULL, NULL, NULL, $payload, now(), 'old')",
            {
                "id": old["id"],
                "at": old["received_at"],
                "payload": orjson.dumps(old["payload"]).decode(),
            },
        )
        con.execute(
            "INSERT INTO market_agg_state (trade_date, timestamp, received_at, call_premium,"
            " cast_failures, message_id, ingested_at)"
            " VALUES (DATE '2025-11-14', 1763132400000, $at, 1.0, [], $id, now())",
            {"id": old["id"], "at": old["received_at"]},
        )
        before = con.execute("SELECT * FROM market_agg_state").fetchall()
        assert migrate(con) == max(m.version for m in MIGRATIONS)
        assert con.execute("SELECT * FROM market_agg_state").fetchall() == before
        assert con.execute("SELECT content_hash, extra FROM universal_webhooks").fetchall() == [
            (None, None)
        ]
        same_again = uw_staging.records([_state("2025-11-14T15:00:00Z", call_premium="1")])
        other = uw_staging.records([_state("2025-11-14T15:00:00Z", call_premium="2")])
        report = load_uw_segments(con, [uw_staging.seal(same_again + other)])
        assert (report.total("duplicates"), report.total("market_added")) == (1, 1)
        assert _count(con, "market_agg_state") == 2


def test_gex_snapshots_of_one_arrival_millisecond_are_kept_in_conflicts(
    con, gex_staging: GexStagingTree
) -> None:
    # The audit of the other typed tables: a snapshot without `timestamp` is stamped with its
    # arrival time; a different one of the same feed in the same millisecond is not lost.
    records = [
        parse_gex(json.dumps({"ticker": "SPX", "spot": spot}), RECEIVED_AT)
        for spot in (6734.25, 6734.5)
    ]
    report = load_gex_segments(con, [gex_staging.seal(records)])
    assert (_count(con, "gex_snapshots"), _count(con, "gex_conflicts")) == (1, 1)
    assert report.total("conflicts") == 1
