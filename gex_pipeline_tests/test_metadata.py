"""Metadata users see in the UI: column schemas that match the real tables, table names, owners,
code references, freshness expectations and resources showing real paths."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from gex_pipeline.definitions import defs
from gex_pipeline.lib.db.schema import migrate
from gex_pipeline.lib.gex.parquet_export import EXPORT_COLUMNS

TABLES = [
    "gex_snapshots",
    "gex_strikes",
    "universal_webhooks",
    "option_trades_events",
    "market_agg_state",
]
LIVE = {"gex_live_batch", "uw_live_batch"}  # removed by the live-loader change


@pytest.fixture(scope="module")
def graph() -> dg.AssetGraph:
    return defs().get_repository_def().asset_graph


def _columns(graph, name: str) -> list[tuple[str, str]]:
    schema = graph.get(dg.AssetKey(name)).metadata["dagster/column_schema"]
    schema = getattr(schema, "schema", schema)
    return [(c.name, c.type) for c in schema.columns]


@pytest.mark.parametrize("table", TABLES)
def test_column_schema_is_the_migrated_duckdb_table(graph, table):
    con = duckdb.connect()
    migrate(con)
    actual = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = $t ORDER BY ordinal_position",
        {"t": table},
    ).fetchall()
    assert _columns(graph, table) == [(name, kind) for name, kind in actual]
    assert graph.get(dg.AssetKey(table)).metadata["dagster/table_name"] == f"gex_data.main.{table}"


def test_parquet_column_schema_lists_the_exported_columns(graph):
    assert [name for name, _ in _columns(graph, "gex_parquet")] == list(EXPORT_COLUMNS)


def test_every_asset_has_owners_tags_a_description_and_a_code_reference(graph):
    for key in graph.get_all_asset_keys():
        if key.to_user_string() in LIVE:
            continue
        node = graph.get(key)
        assert node.owners == ["team:gex-pipeline"], key
        assert {"domain", "layer"} <= set(node.tags), key
        assert node.description, key
        references = node.metadata["dagster/code_references"].code_references
        assert any(Path(ref.file_path).is_file() for ref in references), key


def test_tables_and_parquet_carry_freshness_expectations(graph):
    """Calendar-aware freshness checks only (a cron policy cannot skip holidays, and a re-reported
    event would satisfy it): live tables within the session, Parquet by 08:00 the next session."""
    for name in [*TABLES, "gex_parquet"]:
        assert graph.get(dg.AssetKey(name)).freshness_policy is None, name
    checks = {key.to_user_string() for key in graph.asset_check_keys}
    assert {
        "gex_snapshots:feed_freshness",
        "universal_webhooks:stream_freshness",
        "gex_parquet:parquet_freshness",
    } <= checks


def test_resources_show_the_paths_of_the_data_directory(data_dir):
    resources = defs().resources
    assert resources["tables"].database == str(data_dir / "gex_data.db")
    assert resources["tables"].lake == str((data_dir / "lake").resolve())
    assert resources["staging"].root == str(data_dir / "staging")
    assert resources["staging"].retention_days == 7
    assert resources["parquet"].root == str(data_dir / "parquet" / "gexbot")
