"""Lineage: every table leads back to the files or streams its rows come from, and on to what is
published from it."""

from __future__ import annotations

import dagster as dg
import pytest

from gex_pipeline.definitions import defs

SOURCES = {
    "staging/gex",
    "staging/uw",
    "staging/history_requests",
    "source/gexbot_day_files",
}


@pytest.fixture(scope="module")
def graph() -> dg.AssetGraph:
    return defs().get_repository_def().asset_graph


def _parents(graph, name: str) -> set[str]:
    return {k.to_user_string() for k in graph.get(dg.AssetKey.from_user_string(name)).parent_keys}


def test_sources_are_external_assets_the_pipeline_never_materializes(graph):
    for name in SOURCES:
        assert not graph.get(dg.AssetKey.from_user_string(name)).is_materializable, name


@pytest.mark.parametrize("table", ["gex_snapshots", "gex_strikes"])
def test_gex_tables_come_from_the_staging_stream_raw_files_and_history_requests(graph, table):
    assert _parents(graph, table) == {
        "staging/gex",
        "source/gexbot_day_files",
        "staging/history_requests",
    }


def test_raw_day_files_come_from_history_requests(graph):
    assert _parents(graph, "source/gexbot_day_files") == {"staging/history_requests"}


def test_parquet_is_published_from_both_tables(graph):
    """`gex_parquet` writes `.strikes.parquet` and `.snapshots.parquet`; the reader views are its
    metadata (`reader_views`), not an asset nobody materializes."""
    assert _parents(graph, "gex_parquet") == {"gex_snapshots", "gex_strikes"}
    assert not graph.has(dg.AssetKey("gex_reader_views"))


@pytest.mark.parametrize(
    "table", ["universal_webhooks", "option_trades_events", "market_agg_state"]
)
def test_webhook_tables_come_from_the_uw_staging_stream(graph, table):
    assert _parents(graph, table) == {"staging/uw"}
