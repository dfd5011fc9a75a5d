"""The single-writer rule of `gex_data.db`: the Dagster pool every DuckDB-writing asset joins."""

DUCKDB_WRITER_POOL = "duckdb_writer"
