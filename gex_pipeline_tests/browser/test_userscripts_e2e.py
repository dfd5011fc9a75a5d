"""The users' browser clients end to end, in headless Chromium against a real ingest server.

A page of `https://unusualwhales.com` forwards Phoenix frames through `fetch` with a JSON body (so
the browser sends a CORS preflight) as the capture userscripts do: one trade forwarded from two
sockets with different `_computed.captured_at`, a trade with a microsecond time, three distinct
market states without timestamp in one request, a heartbeat and a dark-pool frame; then it posts
to a name the server does not answer to and reads the refusal. A page of `https://gexbot.com` posts
a history link with `navigator.sendBeacon` (text/plain). The staged data is then loaded into DuckDB
and every typed row is checked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.staging.history_store import HistoryStore
from gex_pipeline.lib.staging.reader import Segment
from gex_pipeline.lib.webhooks.live_load import load_uw_segments
from gex_pipeline.settings import Settings
from gex_pipeline_tests.support.browser import Chromium, SiteServer
from gex_pipeline_tests.support.servers import IngestServer

pytestmark = pytest.mark.e2e
TIMEOUT_S = 60

UW_PAGE = """<!doctype html><html><body><script>
const API = "http://127.0.0.1:%(port)d";
const REFUSING = "http://refused.localhost:%(port)d";
function trade(id, executedAt, channel) {
  return [null, null, channel, "new_msg", {
    data: {id: id, executed_at: executedAt, option_chain_id: "SPXW251114C06700000",
           price: "4.10", size: 3, premium: "1230.00", ask_vol: 3, bid_vol: 0, tags: ["ask_side"]},
    _computed: {is_sweep: false, sweep_conviction: "none", ask_vol_ratio: 1,
                captured_at: new Date().toISOString()}}];
}
function state(premium) {
  return [null, null, "market_agg_socket", "market-state",
          {data: {date: "2025-11-14", call_premium: premium, put_volume: 15000}}];
}
async function post(base, path, message) {
  try {
    const answer = await fetch(base + path, {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(message)});
    return {status: answer.status, body: await answer.json()};
  } catch (error) {
    return {status: 0, error: String(error)};
  }
}
async function run() {
  const posts = [];
  posts.push(await post(API, "/uw", trade("t-1", "2025-11-14T15:02:11.482812Z",
                                          "option_trades_super_algo:SPX")));
  posts.push(await post(API, "/uw", trade("t-1", "2025-11-14T15:02:11.482812Z",
                                          "option_trades_super_algo")));
  posts.push(await post(API, "/uw", trade("t-2", "2025-11-14T15:02:12.999999Z",
                                          "option_trades_super_algo:SPX")));
  posts.push(await post(API, "/uw", [state("1"), state("2"), state("3")]));
  posts.push(await post(API, "/uw", [null, "7", "phoenix", "heartbeat", {}]));
  posts.push(await post(API, "/uw", [null, null, "dark_pool_socket", "new_msg",
                                     {data: {id: "dp-1", size: "100"}}]));
  const refused = await post(REFUSING, "/uw", state("4"));
  await fetch("/report", {method: "POST",
                          body: JSON.stringify({page: "uw", posts: posts, refused: refused})});
  location.href = "https://gexbot.com/";
}
run();
</script></body></html>"""

GEXBOT_PAGE = """<!doctype html><html><body><script>
const link = "https://hist.gex.bot/2025-11-14_NQ_NDX_classic_gex_zero.json.gz?sv=2025&sig=s3cret";
const sent = navigator.sendBeacon("http://127.0.0.1:%(port)d/gex_history_url",
  JSON.stringify({url: link, gex_type: "gex_zero", ticker: "NDX"}));
fetch("/report", {method: "POST", body: JSON.stringify({page: "gexbot", sent: sent})});
</script></body></html>"""


@pytest.fixture
def browser_run(
    ingest_server: Callable[..., IngestServer], tmp_path: Path
) -> Iterator[tuple[IngestServer, SiteServer]]:
    """The ingest server, the two sites and one Chromium that visits them; everything stopped."""
    server = ingest_server(GEX_INGEST_SEAL_AGE_MS="100")
    pages = {"unusualwhales.com": UW_PAGE, "gexbot.com": GEXBOT_PAGE}
    sites = SiteServer(
        {name: page % {"port": server.port} for name, page in pages.items()}, tmp_path
    )
    browser = Chromium(
        "https://unusualwhales.com/", sites.resolver_rules(), tmp_path / "chromium.log"
    )
    try:
        yield server, sites
    finally:
        browser.close()
        sites.close()


def _wait_for_history_request(store: HistoryStore) -> list[str]:
    deadline = time.monotonic() + TIMEOUT_S
    while not (ids := store.list_request_ids()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return ids


def _count(con: duckdb.DuckDBPyConnection, query: str) -> object:
    return con.execute(query).fetchall()[0][0]


def test_userscript_pages_post_every_shape_and_read_refusals(
    browser_run: tuple[IngestServer, SiteServer], data_dir: Path
) -> None:
    server, sites = browser_run
    uw = sites.wait_for("uw", TIMEOUT_S)
    assert [p["status"] for p in uw["posts"]] == [202, 202, 202, 202, 200, 202], uw["posts"]
    assert uw["posts"][3]["body"]["received"] == 3

    # a refusal from the guard in front of the routes, read by the page (status and reason)
    refused = uw["refused"]
    assert refused["status"] == 421, refused
    assert refused["body"]["detail"]["field"] == "host"
    assert "GEX_INGEST_LAN=1" in refused["body"]["detail"]["message"]

    # the JSON posts went through CORS preflights, all answered for the page's origin
    metrics = httpx.get(f"{server.base_url}/metrics").text
    allowed = re.search(r'gex_ingest_preflights_total\{result="allowed"\} (\d+)', metrics)
    assert allowed is not None and int(allowed.group(1)) >= 1, metrics
    assert 'result="refused"' not in metrics

    # the history link posted with sendBeacon from the other site
    assert sites.wait_for("gexbot", TIMEOUT_S)["sent"] is True
    paths = Settings.from_env().paths
    store = HistoryStore(paths.data_dir, paths.secrets_dir)
    [request_id] = _wait_for_history_request(store)
    request = store.load_request(request_id)
    assert request is not None
    assert (request.ticker, request.endpoint, str(request.trade_date)) == (
        "NQ_NDX",
        "gex_zero",
        "2025-11-14",
    )

    # every typed row, once
    assert server.stop()  # seals the open segment
    sealed = sorted((data_dir / "staging" / "uw" / "sealed").glob("*.jsonl"))
    with duckdb.connect() as con:
        migrate(con)
        report = load_uw_segments(con, [Segment(int(p.name[:20]), p) for p in sealed])
        assert con.execute(
            "SELECT id, executed_at, channel FROM option_trades_events ORDER BY id"
        ).fetchall() == [
            ("t-1", 1_763_132_531_482, "option_trades_super_algo:SPX"),
            ("t-2", 1_763_132_532_999, "option_trades_super_algo:SPX"),
        ]
        assert con.execute(
            "SELECT call_premium FROM market_agg_state ORDER BY call_premium"
        ).fetchall() == [(1.0,), (2.0,), (3.0,)]
        assert _count(con, "SELECT count(DISTINCT received_at) FROM market_agg_state") == 1
        assert _count(con, "SELECT count(*) FROM universal_webhooks") == 6
        assert _count(con, "SELECT count(*) FROM webhook_conflicts") == 0
        assert (report.total("duplicates"), report.total("conflicts")) == (1, 0)
