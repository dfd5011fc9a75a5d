"""Forward-only migrations of the DuckDB schema, in order; never edit one that has shipped.

Units and time zones (see docs/schema.md): `timestamp` is BIGINT epoch milliseconds UTC,
`trade_date` is the America/New_York calendar date of `timestamp`, `ingested_at` is TIMESTAMPTZ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step: its version, a one-line description and the statements it runs."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """
    CREATE TABLE gex_snapshots (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        timestamp BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        spot DOUBLE,
        zero_gamma DOUBLE,
        sum_gex_vol DOUBLE,
        sum_gex_oi DOUBLE,
        major_pos_vol DOUBLE,
        major_neg_vol DOUBLE,
        major_pos_oi DOUBLE,
        major_neg_oi DOUBLE,
        min_dte INTEGER,
        sec_min_dte INTEGER,
        delta_risk_reversal DOUBLE,
        max_priors DOUBLE[][],
        max_change JSON,
        extra JSON,
        strike_count INTEGER NOT NULL,
        content_hash VARCHAR,
        source VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        payload_id VARCHAR,
        PRIMARY KEY (ticker, endpoint, timestamp)
    )
    """,
    """
    CREATE TABLE gex_strikes (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        timestamp BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        strike DOUBLE NOT NULL,
        gamma DOUBLE,
        oi_gamma DOUBLE,
        priors DOUBLE[]
    )
    """,
    """
    CREATE TABLE gex_events (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        timestamp BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        record JSON NOT NULL,
        content_hash VARCHAR,
        source VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        payload_id VARCHAR,
        PRIMARY KEY (ticker, endpoint, kind, timestamp)
    )
    """,
    """
    CREATE TABLE gex_conflicts (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        timestamp BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        content_hash VARCHAR,
        kept_hash VARCHAR,
        payload_id VARCHAR,
        source VARCHAR NOT NULL,
        segment VARCHAR,
        line BIGINT,
        record JSON,
        detected_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE loaded_segments (
        stream VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        batch VARCHAR NOT NULL,
        records BIGINT NOT NULL,
        loaded_at TIMESTAMPTZ NOT NULL,
        run_id VARCHAR,
        PRIMARY KEY (stream, name)
    )
    """,
    """
    CREATE TABLE loaded_partitions (
        stream VARCHAR NOT NULL,
        batch VARCHAR NOT NULL,
        trade_date DATE NOT NULL,
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        snapshots_added BIGINT NOT NULL,
        strikes_added BIGINT NOT NULL,
        events_added BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        conflicts BIGINT NOT NULL,
        first_timestamp BIGINT NOT NULL,
        last_timestamp BIGINT NOT NULL,
        PRIMARY KEY (stream, batch, trade_date, ticker, endpoint)
    )
    """,
)


# Webhook (`/uw`) messages: every message raw, option trades flattened, market-state aggregates.
# Times are BIGINT epoch ms UTC; `trade_date` is the America/New_York date of the event.
_V2 = (
    """
    CREATE TABLE universal_webhooks (
        id VARCHAR PRIMARY KEY,
        received_at BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        form VARCHAR,
        channel VARCHAR NOT NULL,
        event VARCHAR,
        topic VARCHAR,
        join_ref VARCHAR,
        ref VARCHAR,
        payload JSON,
        ingested_at TIMESTAMPTZ NOT NULL,
        segment VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE option_trades_events (
        id VARCHAR PRIMARY KEY,
        executed_at BIGINT,
        trade_date DATE NOT NULL,
        option_chain_id VARCHAR,
        underlying VARCHAR,
        root VARCHAR,
        expiry DATE,
        option_type VARCHAR,
        strike DOUBLE,
        price DOUBLE,
        size BIGINT,
        premium DOUBLE,
        volume BIGINT,
        open_interest BIGINT,
        underlying_price DOUBLE,
        implied_volatility DOUBLE,
        delta DOUBLE,
        gamma DOUBLE,
        theta DOUBLE,
        vega DOUBLE,
        rho DOUBLE,
        theo DOUBLE,
        ask_vol BIGINT,
        bid_vol BIGINT,
        mid_vol BIGINT,
        multi_vol BIGINT,
        no_side_vol BIGINT,
        stock_multi_vol BIGINT,
        ewma_nbbo_ask DOUBLE,
        ewma_nbbo_bid DOUBLE,
        exchange VARCHAR,
        tags VARCHAR[],
        report_flags VARCHAR[],
        sector VARCHAR,
        industry_type VARCHAR,
        issue_type VARCHAR,
        marketcap DOUBLE,
        next_earnings_date DATE,
        is_agg BOOLEAN,
        upstream_condition_detail VARCHAR,
        channel VARCHAR NOT NULL,
        cast_failures VARCHAR[] NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE market_agg_state (
        trade_date DATE NOT NULL,
        timestamp BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        call_premium DOUBLE,
        put_premium DOUBLE,
        call_premium_otm_only DOUBLE,
        put_premium_otm_only DOUBLE,
        call_volume DOUBLE,
        put_volume DOUBLE,
        put_call_ratio DOUBLE,
        delta DOUBLE,
        gamma DOUBLE,
        theta DOUBLE,
        vega DOUBLE,
        net_call_premium DOUBLE,
        net_put_premium DOUBLE,
        net_volume DOUBLE,
        cast_failures VARCHAR[] NOT NULL,
        message_id VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (trade_date, timestamp)
    )
    """,
    """
    CREATE TABLE webhook_conflicts (
        id VARCHAR NOT NULL,
        received_at BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        form VARCHAR,
        channel VARCHAR NOT NULL,
        event VARCHAR,
        payload JSON,
        segment VARCHAR NOT NULL,
        line BIGINT NOT NULL,
        detected_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE loaded_webhook_days (
        stream VARCHAR NOT NULL,
        batch VARCHAR NOT NULL,
        trade_date DATE NOT NULL,
        messages_added BIGINT NOT NULL,
        trades_added BIGINT NOT NULL,
        market_added BIGINT NOT NULL,
        other_added BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        conflicts BIGINT NOT NULL,
        cast_failures BIGINT NOT NULL,
        first_received_at BIGINT NOT NULL,
        last_received_at BIGINT NOT NULL,
        PRIMARY KEY (stream, batch, trade_date)
    )
    """,
)

# What history imports drop (kept for inspection) and the live rows an import replaced (kept to
# compare live capture with the vendor's file). Both are per date x feed slice.
_V3 = (
    """
    CREATE TABLE gex_history_rejects (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        trade_date DATE NOT NULL,
        position BIGINT NOT NULL,
        timestamp BIGINT,
        reason VARCHAR NOT NULL,
        differs BOOLEAN,
        spot DOUBLE,
        kept_spot DOUBLE,
        record JSON,
        detected_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (ticker, endpoint, trade_date, position)
    )
    """,
    """
    CREATE TABLE gex_live_shadow (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        timestamp BIGINT NOT NULL,
        trade_date DATE NOT NULL,
        spot DOUBLE,
        zero_gamma DOUBLE,
        ingested_at TIMESTAMPTZ NOT NULL,
        replaced_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (ticker, endpoint, timestamp)
    )
    """,
)

# Per-partition figures of `gex_strikes` (see `gex_pipeline.lib.gex.partition_figures`), kept by
# every writer in the rows' transaction; filled here from the rows already stored.
_V4 = (
    """
    CREATE TABLE gex_partition_figures (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        trade_date DATE NOT NULL,
        strike_rows BIGINT NOT NULL,
        strike_key_duplicates BIGINT NOT NULL,
        strike_hash HUGEINT NOT NULL,
        PRIMARY KEY (ticker, endpoint, trade_date)
    )
    """,
    """
    INSERT INTO gex_partition_figures
    SELECT ticker, endpoint, trade_date, count(*),
           count(*) - count(DISTINCT (timestamp, strike)),
           coalesce(sum(hash(timestamp, ticker, endpoint, strike, gamma, oi_gamma, priors)
                        ::HUGEINT), 0)
    FROM gex_strikes GROUP BY ticker, endpoint, trade_date
    """,
)

# Every distinct market-state message keeps its typed row: `market_agg_state` is keyed by its
# message id (messages without `data.timestamp`, stamped with their arrival millisecond, collided
# on the old key `trade_date, timestamp`). Webhook messages keep the hash of their upstream content
# (duplicates and conflicts are told apart on it, client annotations left out) and the fields of
# object messages beyond channel, event, refs and payload (`extra`). Existing rows are kept as
# they are; rows stored before have no `content_hash` and are compared on their payload.
_V5 = (
    """
    CREATE TABLE market_agg_state_v5 (
        trade_date DATE NOT NULL,
        timestamp BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        call_premium DOUBLE,
        put_premium DOUBLE,
        call_premium_otm_only DOUBLE,
        put_premium_otm_only DOUBLE,
        call_volume DOUBLE,
        put_volume DOUBLE,
        put_call_ratio DOUBLE,
        delta DOUBLE,
        gamma DOUBLE,
        theta DOUBLE,
        vega DOUBLE,
        net_call_premium DOUBLE,
        net_put_premium DOUBLE,
        net_volume DOUBLE,
        cast_failures VARCHAR[] NOT NULL,
        message_id VARCHAR NOT NULL PRIMARY KEY,
        ingested_at TIMESTAMPTZ NOT NULL
    )
    """,
    "INSERT INTO market_agg_state_v5 SELECT * FROM market_agg_state ORDER BY trade_date, timestamp",
    "DROP TABLE market_agg_state",
    "ALTER TABLE market_agg_state_v5 RENAME TO market_agg_state",
    "ALTER TABLE universal_webhooks ADD COLUMN content_hash VARCHAR",
    "ALTER TABLE universal_webhooks ADD COLUMN extra JSON",
)

# The lake (Delta tables) holds the closed partitions; `gex_data.db` keeps the open ones. A partition
# sealed once (moved to the lake, `lib/lake/seal.py`) is noted here, so rows that arrive for it
# later are compared with everything the lake holds. `feed` is '' for a date of the webhook tables.
# `gex_partition_changes` is a lake table (empty here): every replace of a feed-day by a batch job,
# with the table versions before and after it (what `gex-pipeline restore` goes back to).
_V6 = (
    """
    CREATE TABLE sealed_partitions (
        trade_date DATE NOT NULL,
        feed VARCHAR NOT NULL,
        sealed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (trade_date, feed)
    )
    """,
    """
    CREATE TABLE gex_partition_changes (
        ticker VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL,
        trade_date DATE NOT NULL,
        writer VARCHAR NOT NULL,
        versions_before JSON NOT NULL,
        versions_after JSON NOT NULL,
        rows_after JSON NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL
    )
    """,
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "gex snapshots, strikes, partial events, conflicts, load bookkeeping", _V1),
    Migration(2, "webhook messages, option trades, market states, conflicts, load figures", _V2),
    Migration(3, "rows history imports dropped, live snapshots history imports replaced", _V3),
    Migration(4, "per-partition figures of gex_strikes kept at load time", _V4),
    Migration(5, "market states keyed by message; webhook content hash and extra fields", _V5),
    Migration(6, "partitions sealed into the lake", _V6),
)
