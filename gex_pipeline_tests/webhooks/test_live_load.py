"""The DuckDB load of staged /uw messages: every message once, trades flattened, casts counted."""

from __future__ import annotations

import copy
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.live.microbatch import StagingRecordError, load_batch_isolating
from gex_pipeline.lib.payloads.occ import parse_occ_symbol
from gex_pipeline.lib.webhooks.live_load import (
    UwStreamLoad,
    load_uw_segments,
    occ_parts_sql,
    occ_sql,
)
from gex_pipeline_tests.support.staging_trees import UW_BASE_S, UwStagingTree

DAY = date(2025, 11, 14)
TABLES = ("universal_webhooks", "option_trades_events", "market_agg_state")


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "gex.db") as con:
        migrate(con)
        yield con


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: object = None) -> list[tuple]:
    return con.execute(query, params).fetchall()


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return _rows(con, f"SELECT count(*) FROM {table}")[0][0]


def _trade(trade_id: str = "t-1", **data: object) -> list[object]:
    fields: dict[str, object] = {
        "id": trade_id,
        "executed_at": "2025-11-14T15:02:11.482Z",
        "option_chain_id": "NVDA251121C00190000",
        "price": "3.45",
        "size": 250,
    }
    fields.update(data)
    return [None, None, "option_trades_super_algo", "new_msg", {"data": fields}]


def _market(**data: object) -> list[object]:
    fields: dict[str, object] = {
        "date": "2025-11-14",
        "timestamp": "2025-11-14T15:00:00.000Z",
        "call_premium": "1234567.89",
        "put_volume": 15000,
    }
    fields.update(data)
    return [None, None, "market_agg_socket", "market-state", {"data": fields}]


def test_every_demo_message_is_stored_once(con, uw_staging: UwStagingTree) -> None:
    records = uw_staging.records(uw_staging.messages(300))
    report = load_uw_segments(con, [uw_staging.seal(records[:150]), uw_staging.seal(records[150:])])
    stored = _rows(con, "SELECT id FROM universal_webhooks ORDER BY id")
    assert stored == sorted((r["id"],) for r in records)
    assert report.total("messages_added") == len(records)


def test_option_trades_are_flattened_with_string_decimals_cast(
    con, uw_staging: UwStagingTree
) -> None:
    message = _trade(premium="86250.00", implied_volatility="0.512", open_interest="48210")
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([message]))])
    assert _rows(
        con,
        "SELECT id, executed_at, price, size, premium, implied_volatility, open_interest,"
        " cast_failures FROM option_trades_events",
    ) == [("t-1", 1763132531482, 3.45, 250, 86250.0, 0.512, 48210, [])]


def test_occ_derived_columns_come_from_the_symbol(con, uw_staging: UwStagingTree) -> None:
    message = _trade(option_chain_id="SPXW251114P06700000")
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([message]))])
    assert _rows(
        con, "SELECT underlying, root, expiry, option_type, strike FROM option_trades_events"
    ) == [("SPX", "SPXW", DAY, "put", 6700.0)]


@pytest.mark.parametrize(
    "symbol",
    [
        "ARM260116C00118000",
        "SPXW251114P06700000",
        "NDXP251114C25060000",
        "SPY   251219P00500500",
        "brk.b251219C00500000",
        "X1A251219C00000500",
        "AAPL250230C00100000",
        "AAPL25121C00100000",
        "not a symbol",
        "",
    ],
)
def test_occ_sql_agrees_with_parse_occ_symbol(con, symbol: str) -> None:
    [(decoded,)] = _rows(con, f"SELECT {occ_sql(occ_parts_sql('$s'))}", {"s": symbol})
    try:
        parsed = parse_occ_symbol(symbol)
    except ValueError:
        assert decoded is None
        return
    assert decoded == {
        "root": parsed.root,
        "underlying": parsed.underlying,
        "expiry": parsed.expiry,
        "option_type": parsed.option_type,
        "strike": parsed.strike,
    }


def test_unknown_channel_is_kept_only_in_universal_webhooks(con, uw_staging: UwStagingTree) -> None:
    unknown = [None, None, "dark_pool_socket", "new_msg", {"data": {"id": "dp-1", "size": "9"}}]
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([unknown]))])
    assert _rows(con, "SELECT channel, payload->>'$.data.id' FROM universal_webhooks") == [
        ("dark_pool_socket", "dp-1")
    ]
    assert (_count(con, "option_trades_events"), _count(con, "market_agg_state")) == (0, 0)


def test_topic_is_the_symbol_after_the_channel_colon(con, uw_staging: UwStagingTree) -> None:
    index_trade = _trade("t-spx")
    index_trade[2] = "option_trades_super_algo:SPX"
    records = uw_staging.records([index_trade, _trade("t-all")])
    load_uw_segments(con, [uw_staging.seal(records)])
    assert _rows(con, "SELECT id, topic FROM universal_webhooks ORDER BY id") == [
        ("t-all", None),
        ("t-spx", "SPX"),
    ]


def test_values_that_do_not_cast_are_named_and_counted(con, uw_staging: UwStagingTree) -> None:
    bad = _trade("t-bad", price="n/a", size="12.5.1", option_chain_id="NVDA", tags="ask_side")
    report = load_uw_segments(con, [uw_staging.seal(uw_staging.records([bad, _trade("t-ok")]))])
    assert report.total("cast_failures") == 1
    assert _rows(
        con,
        "SELECT price, size, strike, tags, cast_failures FROM option_trades_events"
        " WHERE id = 't-bad'",
    ) == [(None, None, None, None, ["option_chain_id", "price", "size", "tags"])]


def test_absent_fields_are_null_without_a_cast_failure(con, uw_staging: UwStagingTree) -> None:
    report = load_uw_segments(con, [uw_staging.seal(uw_staging.records([_trade()]))])
    assert report.total("cast_failures") == 0
    assert _rows(con, "SELECT delta, sector, cast_failures FROM option_trades_events") == [
        (None, None, [])
    ]


def test_market_state_fields_are_typed_as_doubles(con, uw_staging: UwStagingTree) -> None:
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([_market()]))])
    assert _rows(
        con, "SELECT trade_date, timestamp, call_premium, put_volume FROM market_agg_state"
    ) == [(DAY, 1763132400000, 1234567.89, 15000.0)]


def test_market_state_without_timestamp_is_stamped_with_received_at(
    con, uw_staging: UwStagingTree
) -> None:
    message = _market(timestamp=None)
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([message], received_at=123_456))])
    assert _rows(con, "SELECT trade_date, timestamp FROM market_agg_state") == [(DAY, 123_456)]


def test_distinct_market_states_of_one_time_each_keep_their_row(
    con, uw_staging: UwStagingTree
) -> None:
    first, second = _market(call_premium="1"), _market(call_premium="2")
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([first]))])
    report = load_uw_segments(con, [uw_staging.seal(uw_staging.records([second, second]))])
    assert (report.total("market_added"), report.total("duplicates")) == (1, 1)
    assert _rows(con, "SELECT call_premium FROM market_agg_state ORDER BY 1") == [(1.0,), (2.0,)]
    assert _count(con, "universal_webhooks") == 2


def test_microsecond_execution_times_are_truncated_like_the_ingest_parser(
    con, uw_staging: UwStagingTree
) -> None:
    trades = [
        _trade("t-1", executed_at="2025-11-14T15:02:11.482812Z"),
        _trade("t-2", executed_at="2025-11-14T15:02:11.4829Z"),
        _trade("t-3", executed_at=1_763_132_531_482_999),
    ]
    load_uw_segments(con, [uw_staging.seal(uw_staging.records(trades))])
    assert _rows(con, "SELECT DISTINCT executed_at FROM option_trades_events") == [
        (1_763_132_531_482,)
    ]


def test_first_arrival_of_a_trade_id_wins_and_later_ones_are_counted(
    con, uw_staging: UwStagingTree
) -> None:
    early = uw_staging.seal(uw_staging.records([_trade(price="1.00")]))
    late = uw_staging.seal(uw_staging.records([_trade(price="2.00"), _trade(price="3.00")]))
    report = load_uw_segments(con, [late, early])
    assert (
        report.total("trades_added"),
        report.total("duplicates"),
        report.total("conflicts"),
    ) == (1, 0, 2)
    assert _rows(con, "SELECT price FROM option_trades_events") == [(1.0,)]
    assert _rows(con, "SELECT segment FROM universal_webhooks") == [(early.name,)]


def test_trade_id_posted_again_with_another_payload_is_kept_aside(
    con, uw_staging: UwStagingTree
) -> None:
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([_trade(price="1.00")]))])
    later = uw_staging.seal(uw_staging.records([_trade("t-2"), _trade(price="2.00")]))
    report = load_uw_segments(con, [later])
    assert report.total("conflicts") == 1
    assert _rows(
        con, "SELECT id, segment, line, payload->>'$.data.price' FROM webhook_conflicts"
    ) == [("t-1", later.name, 2, "2.00")]


def test_same_trade_relayed_on_another_channel_is_a_duplicate(
    con, uw_staging: UwStagingTree
) -> None:
    on_index_channel = _trade()
    on_index_channel[2] = "option_trades_super_algo:NVDA"
    records = uw_staging.records([_trade(), on_index_channel])
    report = load_uw_segments(con, [uw_staging.seal(records)])
    assert (
        report.total("trades_added"),
        report.total("duplicates"),
        report.total("conflicts"),
    ) == (1, 1, 0)


def test_message_posted_again_later_is_a_counted_no_op(con, uw_staging: UwStagingTree) -> None:
    records = uw_staging.records(uw_staging.messages(40))
    load_uw_segments(con, [uw_staging.seal(records)])
    before = [_rows(con, f"SELECT * EXCLUDE (ingested_at) FROM {t} ORDER BY ALL") for t in TABLES]
    reposted = [{**r, "received_at": r["received_at"] + 60_000} for r in copy.deepcopy(records)]
    report = load_uw_segments(con, [uw_staging.seal(reposted)])
    assert (report.total("messages_added"), report.total("duplicates")) == (0, len(records))
    after = [_rows(con, f"SELECT * EXCLUDE (ingested_at) FROM {t} ORDER BY ALL") for t in TABLES]
    assert after == before


def test_reloading_the_same_segments_loads_nothing_and_reports_again(
    con, uw_staging: UwStagingTree
) -> None:
    segment = uw_staging.seal(uw_staging.records(uw_staging.messages(40)))
    first = load_uw_segments(con, [segment])
    again = load_uw_segments(con, [segment])
    assert (again.loaded_segments, again.already_loaded_segments) == ([], [segment.name])
    assert again.stats == first.stats
    assert _count(con, "loaded_segments") == 1


def test_evening_trade_lands_in_its_new_york_trading_date(con, uw_staging: UwStagingTree) -> None:
    evening = datetime(2025, 11, 15, 1, 30, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    load_uw_segments(con, [uw_staging.seal(uw_staging.records([_trade(executed_at=evening)]))])
    assert _rows(con, "SELECT trade_date FROM option_trades_events") == [(DAY,)]
    assert _rows(con, "SELECT trade_date FROM universal_webhooks") == [(DAY,)]


def test_figures_are_reported_per_trading_date(con, uw_staging: UwStagingTree) -> None:
    next_day = _trade("t-2", executed_at="2025-11-17T15:00:00Z")
    other = [None, None, "dark_pool_socket", "new_msg", {"data": {"x": 1}}]
    records = uw_staging.records([_trade("t-1"), _market(), other])
    records += uw_staging.records([next_day], received_at=1_763_391_600_500)  # 11-17 15:00 UTC
    records += uw_staging.records([_trade("t-1")])
    report = load_uw_segments(con, [uw_staging.seal(records)])
    summary = [
        (d.trade_date, d.messages_added, d.trades_added, d.market_added, d.other_added)
        for d in report.stats
    ]
    assert summary == [(DAY, 3, 1, 1, 1), (date(2025, 11, 17), 1, 1, 0, 0)]
    assert [d.duplicates for d in report.stats] == [1, 0]


def test_record_without_id_fails_the_batch_naming_segment_line_and_field(
    con, uw_staging: UwStagingTree
) -> None:
    good = uw_staging.seal(uw_staging.records([_trade()]))
    records = uw_staging.records([_trade("t-2"), _market()])
    records[1]["id"] = ""
    bad = uw_staging.seal(records)
    with pytest.raises(StagingRecordError, match=f"segment {bad.name} line 2: .*'id'"):
        load_uw_segments(con, [good, bad])
    for table in (*TABLES, "loaded_segments", "loaded_webhook_days"):
        assert _count(con, table) == 0, table


def test_isolating_load_sets_bad_segments_aside_and_loads_the_rest(
    con, uw_staging: UwStagingTree
) -> None:
    good = uw_staging.seal(uw_staging.records([_trade("t-1")]))
    bad = uw_staging.seal(uw_staging.records([_trade("t-2")]))
    bad.path.write_text(bad.path.read_text() + "{torn\n")
    later = uw_staging.seal(uw_staging.records([_trade("t-3")]))
    result = load_batch_isolating(con, UwStreamLoad(), [good, bad, later])
    assert list(result.rejected) == [bad.name]
    assert result.report.loaded_segments == [good.name, later.name]
    assert _rows(con, "SELECT id FROM option_trades_events ORDER BY id") == [("t-1",), ("t-3",)]


def test_demo_day_lands_in_its_trading_date(con, uw_staging: UwStagingTree) -> None:
    records = uw_staging.records(uw_staging.messages(200, start_s=UW_BASE_S))
    report = load_uw_segments(con, [uw_staging.seal(records)])
    assert [d.trade_date for d in report.stats] == [DAY]
    assert _rows(con, "SELECT count(*) FROM option_trades_events WHERE strike IS NULL") == [(0,)]


LOADER = """
import sys
from pathlib import Path
from gex_pipeline.lib.db.connection import connect
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
segments = [Segment(int(Path(p).name[:20]), Path(p)) for p in sys.argv[2:]]
with connect(Path(sys.argv[1])) as con:
    migrate(con)
    print("loading", flush=True)
    load_uw_segments(con, segments)
"""


def _differences(con: duckdb.DuckDBPyConnection, other: str) -> dict[str, int]:
    """Rows of each webhook table found on one side only (ingestion times left out)."""
    return {
        table: _rows(
            con,
            f"SELECT (SELECT count(*) FROM (SELECT * EXCLUDE (ingested_at) FROM {table} EXCEPT ALL"
            f" SELECT * EXCLUDE (ingested_at) FROM {other}.{table})) + (SELECT count(*) FROM"
            f" (SELECT * EXCLUDE (ingested_at) FROM {other}.{table} EXCEPT ALL"
            f" SELECT * EXCLUDE (ingested_at) FROM {table}))",
        )[0][0]
        for table in TABLES
    }


@pytest.fixture(scope="module")
def big_batch_records() -> list[dict]:
    return UwStagingTree.records(UwStagingTree.messages(24_000, seed=7))


@pytest.mark.parametrize("kill_after_seconds", [0.1, 0.3, 0.6])
def test_killed_load_followed_by_a_retry_gives_the_same_tables(
    tmp_path: Path,
    uw_staging: UwStagingTree,
    big_batch_records: list[dict],
    kill_after_seconds: float,
) -> None:
    segments = [uw_staging.seal(big_batch_records[i::8]) for i in range(8)]
    with connect(tmp_path / "clean.db") as clean:
        migrate(clean)
        load_uw_segments(clean, segments)
    crashed = tmp_path / "crashed.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", LOADER, str(crashed), *(str(s.path) for s in segments)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"loading\n"
    time.sleep(kill_after_seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with connect(crashed) as con:
        migrate(con)
        load_uw_segments(con, segments)
        con.execute(f"ATTACH '{tmp_path / 'clean.db'}' AS clean (READ_ONLY)")
        assert _differences(con, "clean") == dict.fromkeys(TABLES, 0)
        assert _count(con, "universal_webhooks") == len(big_batch_records)
        assert _count(con, "loaded_segments") == len(segments)


def test_trade_channel_message_without_trade_id_is_kept_raw_only(
    con, uw_staging: UwStagingTree
) -> None:
    records = uw_staging.records([_trade(" "), _trade(None)])
    load_uw_segments(con, [uw_staging.seal(records)])
    assert _count(con, "universal_webhooks") == 2
    assert _count(con, "option_trades_events") == 0


def test_empty_segment_is_recorded_as_loaded(con, uw_staging: UwStagingTree) -> None:
    segment = uw_staging.seal([])
    report = load_uw_segments(con, [segment])
    assert report.loaded_segments == [segment.name]
    assert _rows(con, "SELECT name, records FROM loaded_segments") == [(segment.name, 0)]
