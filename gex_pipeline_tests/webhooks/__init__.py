"""Tests of the webhooks domain (`/uw` messages into DuckDB)."""
