"""Tests of the live loader: both staging streams into DuckDB outside runs, reported to Dagster."""
