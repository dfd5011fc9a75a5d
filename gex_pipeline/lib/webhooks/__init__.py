"""Webhooks (`/uw`): the live micro-batch load of option-flow messages into DuckDB."""
