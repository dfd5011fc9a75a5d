"""Tests of the DuckDB schema and migrations."""
