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

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "gex snapshots, strikes, partial events, conflicts, load bookkeeping", _V1),
)
