"""Webhook (`/uw`) messages: the micro-batch load into DuckDB, reported per trading date."""
