"""What the UI shows about each asset besides its data: owners, tags, table names, column schemas
(from docs/schema.md; `test_metadata.py` checks them against the migrated DuckDB schema).

No asset carries a cron `FreshnessPolicy`: a cron cannot skip holidays, and a re-reported event
would satisfy it. Freshness is judged by calendar-aware checks the freshness sensor records:
`feed_freshness` (gex_snapshots), `stream_freshness` (universal_webhooks) and `parquet_freshness`
(gex_parquet, exported by 08:00 New York on the next session)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import dagster as dg

from gex_pipeline.defs.gex.keys import SOURCES_GROUP
from gex_pipeline.lib.gex.freshness import FeedFreshness

OWNERS = ["team:gex-pipeline"]
DATABASE = "gex_data"


def tags(domain: str, layer: str) -> dict[str, str]:
    """Asset tags: the domain (`gex`, `history`, `webhooks`) and the layer (`source`, `table`,
    `publish`)."""
    return {"domain": domain, "layer": layer}


def _schema(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, type, description=text or None) for name, type, text in columns
        ]
    )


_KEY = (
    ("ticker", "VARCHAR", "feed ticker, e.g. NQ_NDX"),
    ("endpoint", "VARCHAR", "gex_zero | gex_one | gex_full"),
    ("timestamp", "BIGINT", "snapshot time, epoch milliseconds UTC"),
    ("trade_date", "DATE", "America/New_York date of timestamp"),
)
_STRIKE_VALUES = (
    ("strike", "DOUBLE", "strike price, points"),
    ("gamma", "DOUBLE", "gamma by volume, vendor units"),
    ("oi_gamma", "DOUBLE", "gamma by open interest; NULL when not sent"),
)

GEX_SNAPSHOTS_SCHEMA = _schema(
    *_KEY,
    ("spot", "DOUBLE", "underlying price, points"),
    ("zero_gamma", "DOUBLE", ""),
    ("sum_gex_vol", "DOUBLE", ""),
    ("sum_gex_oi", "DOUBLE", ""),
    ("major_pos_vol", "DOUBLE", ""),
    ("major_neg_vol", "DOUBLE", ""),
    ("major_pos_oi", "DOUBLE", ""),
    ("major_neg_oi", "DOUBLE", ""),
    ("min_dte", "INTEGER", ""),
    ("sec_min_dte", "INTEGER", ""),
    ("delta_risk_reversal", "DOUBLE", ""),
    ("max_priors", "DOUBLE[][]", "[strike, value] for now, 1, 5, 10, 15, 30 min"),
    ("max_change", "JSON", ""),
    ("extra", "JSON", "unknown top-level fields, kept"),
    ("strike_count", "INTEGER", "distinct strikes stored in gex_strikes"),
    ("content_hash", "VARCHAR", "md5 of the content fields"),
    ("source", "VARCHAR", "live or history:<file name>"),
    ("ingested_at", "TIMESTAMP WITH TIME ZONE", "when the pipeline wrote the row"),
    ("payload_id", "VARCHAR", "staging record id"),
)
GEX_STRIKES_SCHEMA = _schema(
    *_KEY, *_STRIKE_VALUES, ("priors", "DOUBLE[]", "p1, p5, p10, p15, p30; NULL when not sent")
)
GEX_PARQUET_SCHEMA = _schema(
    ("timestamp", "INT64", "epoch milliseconds UTC; rows sorted by timestamp, strike"),
    ("ticker", "STRING", ""),
    ("endpoint", "STRING", ""),
    *_STRIKE_VALUES,
    ("priors", "LIST<DOUBLE>", "p1, p5, p10, p15, p30"),
)
UNIVERSAL_WEBHOOKS_SCHEMA = _schema(
    ("id", "VARCHAR", "trade id, else sha256 of the canonical message"),
    ("received_at", "BIGINT", "epoch ms UTC, when the API accepted it"),
    ("trade_date", "DATE", "America/New_York date of the event"),
    ("form", "VARCHAR", "phoenix | object"),
    ("channel", "VARCHAR", "Phoenix topic as sent"),
    ("event", "VARCHAR", ""),
    ("topic", "VARCHAR", "part of the channel after ':'"),
    ("join_ref", "VARCHAR", ""),
    ("ref", "VARCHAR", ""),
    ("payload", "JSON", "as sent"),
    ("ingested_at", "TIMESTAMP WITH TIME ZONE", ""),
    ("segment", "VARCHAR", "staging segment it came from"),
    ("content_hash", "VARCHAR", "sha256 of the payload, client annotations left out"),
    ("extra", "JSON", "fields of an object message beyond the message, kept"),
)
_TRADE_COLUMNS = (
    "id:VARCHAR executed_at:BIGINT trade_date:DATE option_chain_id:VARCHAR underlying:VARCHAR "
    "root:VARCHAR expiry:DATE option_type:VARCHAR strike:DOUBLE price:DOUBLE size:BIGINT "
    "premium:DOUBLE volume:BIGINT open_interest:BIGINT underlying_price:DOUBLE "
    "implied_volatility:DOUBLE delta:DOUBLE gamma:DOUBLE theta:DOUBLE vega:DOUBLE rho:DOUBLE "
    "theo:DOUBLE ask_vol:BIGINT bid_vol:BIGINT mid_vol:BIGINT multi_vol:BIGINT no_side_vol:BIGINT "
    "stock_multi_vol:BIGINT ewma_nbbo_ask:DOUBLE ewma_nbbo_bid:DOUBLE exchange:VARCHAR "
    "tags:VARCHAR[] report_flags:VARCHAR[] sector:VARCHAR industry_type:VARCHAR issue_type:VARCHAR "
    "marketcap:DOUBLE next_earnings_date:DATE is_agg:BOOLEAN upstream_condition_detail:VARCHAR "
    "channel:VARCHAR cast_failures:VARCHAR[] ingested_at:TIMESTAMP_WITH_TIME_ZONE"
)
_MARKET_COLUMNS = (
    "trade_date:DATE timestamp:BIGINT received_at:BIGINT call_premium:DOUBLE put_premium:DOUBLE "
    "call_premium_otm_only:DOUBLE put_premium_otm_only:DOUBLE call_volume:DOUBLE put_volume:DOUBLE "
    "put_call_ratio:DOUBLE delta:DOUBLE gamma:DOUBLE theta:DOUBLE vega:DOUBLE "
    "net_call_premium:DOUBLE net_put_premium:DOUBLE net_volume:DOUBLE cast_failures:VARCHAR[] "
    "message_id:VARCHAR ingested_at:TIMESTAMP_WITH_TIME_ZONE"
)


def _compact(columns: str) -> dg.TableSchema:
    """A schema from `name:TYPE` pairs (`_` in a type stands for a space)."""
    pairs = (item.split(":") for item in columns.split())
    return _schema(*((name, type.replace("_", " "), "") for name, type in pairs))


OPTION_TRADES_EVENTS_SCHEMA = _compact(_TRADE_COLUMNS)
MARKET_AGG_STATE_SCHEMA = _compact(_MARKET_COLUMNS)


def table_metadata(table: str, schema: dg.TableSchema) -> dict[str, object]:
    """`dagster/table_name` and `dagster/column_schema` of a DuckDB table."""
    return {"dagster/table_name": f"{DATABASE}.main.{table}", "dagster/column_schema": schema}


def defined_here(depth: int = 1) -> dict[str, dg.CodeReferencesMetadataValue]:
    """`dagster/code_references` pointing at the caller's line (`depth` frames up), for
    `AssetSpec`s (decorated assets get theirs from `dg.with_source_code_references`)."""
    caller = inspect.stack()[depth]
    reference = dg.LocalFileCodeReference(file_path=caller.filename, line_number=caller.lineno)
    return {"dagster/code_references": dg.CodeReferencesMetadataValue(code_references=[reference])}


def source_spec(
    key: dg.AssetKey, domain: str, description: str, deps: Sequence[dg.AssetKey] = ()
) -> dg.AssetSpec:
    """An external source the pipeline reads and never produces (files the ingest API writes or
    the imports download), in the sources group, defined at the caller's line."""
    return dg.AssetSpec(
        key,
        deps=deps,
        group_name=SOURCES_GROUP,
        kinds={"file"},
        owners=OWNERS,
        tags=tags(domain, "source"),
        metadata=defined_here(depth=2),
        description=description,
    )


def freshness_metadata(verdict: FeedFreshness) -> dict[str, dg.MetadataValue]:
    """Evidence of a verdict: last report, silence, the session judged against."""
    metadata: dict[str, dg.MetadataValue] = {
        "judged": dg.MetadataValue.bool(verdict.judged),
    }
    if verdict.last_seen_ms is not None:
        metadata["last_report"] = dg.MetadataValue.timestamp(verdict.last_seen_ms / 1000)
    if verdict.silent_seconds is not None:
        metadata["silent_seconds"] = dg.MetadataValue.int(verdict.silent_seconds)
    if verdict.session is not None:
        metadata["session_open"] = dg.MetadataValue.timestamp(verdict.session.open_ms / 1000)
        metadata["session_close"] = dg.MetadataValue.timestamp(verdict.session.close_ms / 1000)
    return metadata


def load_metadata(
    rows: int,
    added: Mapping[str, int],
    duplicates: int,
    conflicts: int,
    span: tuple[str, int, int],
    **more: int,
) -> dict[str, dg.MetadataValue]:
    """Metadata of a partition a live load changed: the rows stored now, what the batch added,
    skipped as duplicates and refused as conflicts (and `more` figures), and the span it covered
    (`span`: a name, first and last epoch ms, shown as `first_<name>` and `last_<name>`)."""
    name, first_ms, last_ms = span
    figures = {**added, "duplicates_skipped": duplicates, "conflicts": conflicts, **more}
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        **{key: dg.MetadataValue.int(value) for key, value in figures.items()},
        f"first_{name}": dg.MetadataValue.timestamp(first_ms / 1000),
        f"last_{name}": dg.MetadataValue.timestamp(last_ms / 1000),
    }
