"""The history sensor refuses a request that would add a feed beyond `GEX_HISTORY_MAX_FEEDS`."""

from __future__ import annotations

from datetime import date

from gex_pipeline.defs.history.sensors import feed_bound_problem
from gex_pipeline.lib.staging.history_store import StoredRequest


def _request(ticker: str) -> StoredRequest:
    return StoredRequest(
        id="0" * 32,
        url="https://hist.gex.bot/x.json",
        url_hash="h",
        signed_url=None,
        ticker=ticker,
        endpoint="gex_zero",
        trade_date=date(2025, 11, 14),
        file_name="x.json",
        overrides={},
        metadata=None,
        first_posted_at=1,
        last_posted_at=1,
        post_count=1,
    )


def test_a_new_feed_beyond_the_bound_is_refused_naming_the_setting() -> None:
    problem = feed_bound_problem(_request("QQQ"), {"SPX.gex_zero", "NDX.gex_zero"}, 2)
    assert problem is not None and "GEX_HISTORY_MAX_FEEDS" in problem


def test_a_known_feed_or_one_within_the_bound_passes() -> None:
    assert feed_bound_problem(_request("SPX"), {"SPX.gex_zero", "NDX.gex_zero"}, 2) is None
    assert feed_bound_problem(_request("QQQ"), {"SPX.gex_zero"}, 2) is None
